"""Moving chain-sharded arrays between one process and a mesh that spans several processes.

After ``jax.distributed.initialize()`` the chain mesh (:func:`collapse_lab.chain.chain_sharding`)
covers every process's devices, and a process can neither ``device_put`` onto devices it does not
own nor read their shards. Every process computes the same host values (keys, source, carry), so
each one builds the global array from its own copy (``jax.make_array_from_callback``), and results
are gathered back to every process (``multihost_utils.process_allgather``). On one process both
helpers are the ordinary ``jax.device_put`` and a no-op.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils


def _is_key(x) -> bool:
    return jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)


def put_global(tree, sharding):
    """``jax.device_put(tree, sharding)``, also when the sharding spans other processes (every
    process must pass the same values)."""
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)

    def put(x):
        if _is_key(x):
            impl = jax.random.key_impl(x)
            return jax.random.wrap_key_data(put(jax.random.key_data(x)), impl=impl)
        host = np.asarray(x)
        spec = sharding if host.ndim else jax.sharding.NamedSharding(
            sharding.mesh, jax.sharding.PartitionSpec())
        return jax.make_array_from_callback(host.shape, spec, lambda index: host[index])

    return jax.tree_util.tree_map(put, tree)


def gather_global(tree):
    """Every array of ``tree`` as a process-local value; arrays sharded over other processes are
    gathered (collectively: every process must call this)."""
    leaves = jax.tree_util.tree_leaves(tree)
    if all(getattr(x, "is_fully_addressable", True) for x in leaves):
        return tree

    def gather(x):
        if getattr(x, "is_fully_addressable", True):
            return x
        if _is_key(x):
            impl = jax.random.key_impl(x)
            return jax.random.wrap_key_data(gather(jax.random.key_data(x)), impl=impl)
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))

    return jax.tree_util.tree_map(gather, tree)
