"""Why vmapping transformer chains cannot be 2x a per-chain loop on this CPU: a roofline.

Times one training step (forward, backward, adam; 32 sequences x 31 tokens; the model of
``transformer_vs_ngram.py``) of one chain and of 4 vmapped chains inside a ``lax.scan``
(compilation excluded), counts the step's matmul FLOPs, and times plain XLA matmuls of the
step's own shapes and of a large square one. A step that already runs at a good fraction of the
matmul rate of its own shapes leaves vmapping nothing to gain but dispatch: the chains share no
work, and a per-chain weight matmul batched over chains is no larger than the per-chain one.

Usage: ``python benchmarks/transformer_roofline.py`` (about 30 s).
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp

import collapse_lab as cl

V, L, B, D, LAYERS, C, STEPS = 32, 32, 32, 64, 2, 4, 20


def best_of(fn, reps=5):
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        out.append(time.perf_counter() - t0)
    return min(out)


def main():
    fam = cl.Transformer(V, L, d_model=D, num_layers=LAYERS, num_heads=4,
                         num_train_steps=STEPS, batch_size=B, learning_rate=5e-3)
    stats = cl.families.transformer.TransformerStats(
        tokens=jax.random.randint(jax.random.key(0), (625, L), 0, V),
        weights=jnp.ones((625,), jnp.float32), cursor=jnp.zeros((), jnp.int32))

    def train(key):
        start = eqx.filter(fam._build(key), eqx.is_array)
        return fam._train(key, stats, start)[1]

    keys = jax.random.split(jax.random.key(1), C)
    one = jax.jit(train)
    many = jax.jit(jax.vmap(train))
    t_one = best_of(lambda: one(keys[0])) / STEPS
    t_many = best_of(lambda: many(keys)) / STEPS / C
    tokens = B * (L - 1)
    # matmul FLOPs per token: forward 2 x (QKV 3D^2 + out D^2 + MLP 8D^2) per layer + unembedding
    # + attention scores and mixing (2 x 2 x D x mean prefix); backward twice the forward.
    fwd = 2 * (LAYERS * (12 * D * D + 2 * D * L) + D * V)
    flops = 3 * fwd * tokens
    print(f"one training step: {flops / 1e9:.2f} GFLOP of matmul ({tokens} tokens)")
    print(f"  one chain        {t_one * 1e3:6.2f} ms/step  {flops / t_one / 1e9:6.1f} GFLOP/s")
    print(f"  {C} vmapped chains {t_many * 1e3:6.2f} ms/step/chain  "
          f"{flops / t_many / 1e9:6.1f} GFLOP/s  (loop/vmapped {t_one / t_many:.2f})")
    for n, k, m in ((tokens, D, 3 * D), (tokens, D, 4 * D), (tokens, 4 * D, D), (2048, 2048, 2048)):
        a, b = jnp.ones((n, k)), jnp.ones((k, m))
        f = jax.jit(lambda a, b: a @ b)
        t = best_of(lambda f=f, a=a, b=b: [f(a, b) for _ in range(20)][-1]) / 20
        print(f"  matmul [{n},{k}]x[{k},{m}]: {2 * n * k * m / t / 1e9:6.1f} GFLOP/s")


if __name__ == "__main__":
    main()
