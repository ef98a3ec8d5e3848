# matmul.py — NumPy twin of bench/programs/matmul.mir: A, B = N x N SplitMix64
# uniforms (seeds 1 and 2), C = A @ B REPS times (OpenBLAS), prints the mean
# of C with 6 decimals. N and REPS from the arguments (defaults 1024, 1).
import sys

import numpy as np

from splitmix import uniform


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    a = uniform(n * n, 1).reshape(n, n)
    b = uniform(n * n, 2).reshape(n, n)
    c = a @ b
    for _ in range(reps - 1):
        c = a @ b
    print("%.6f" % (c.sum() / (n * n)))


main()
