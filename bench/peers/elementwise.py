# elementwise.py — NumPy twin of bench/programs/elementwise.mir: A, B = N
# SplitMix64 uniforms (seeds 1 and 2), then `a += b` REPS times (in place),
# prints the mean of A with 6 decimals. N and REPS from the arguments
# (defaults 10000000, 100).
import sys

from splitmix import uniform


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    a = uniform(n, 1)
    b = uniform(n, 2)
    for _ in range(reps):
        a += b
    print("%.6f" % (a.sum() / n))


main()
