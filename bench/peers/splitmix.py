# splitmix.py — SplitMix64 uniforms as MatrixBox.random / TensorBox.random
# draw them (§7): state += 0x9E3779B97F4A7C15, mix, (next >> 11) * 2^-53, in
# row-major order. Vectorised with NumPy's wrapping uint64 arithmetic.
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def uniform(n, seed):
    """The first n draws of SplitMix64 seeded with `seed`, as float64."""
    z = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + np.arange(1, n + 1, dtype=np.uint64) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53
