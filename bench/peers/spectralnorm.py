# spectralnorm.py — twin of bench/programs/spectralnorm.mir: the Benchmarks
# Game spectral norm of A(i, j) = 1 / ((i + j) * (i + j + 1) / 2 + i + 1),
# N x N, 10 rounds of the power method on A^T A; prints sqrt(u.v / v.v).
import math
import sys


def a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


def mult_av(v, out, n):
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += a(i, j) * v[j]
        out[i] = s


def mult_atv(v, out, n):
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += a(j, i) * v[j]
        out[i] = s


def mult_atav(v, out, tmp, n):
    mult_av(v, tmp, n)
    mult_atv(tmp, out, n)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    u = [1.0] * n
    v = [0.0] * n
    tmp = [0.0] * n
    for _ in range(10):
        mult_atav(u, v, tmp, n)
        mult_atav(v, u, tmp, n)
    vbv = 0.0
    vv = 0.0
    for i in range(n):
        vbv += u[i] * v[i]
        vv += v[i] * v[i]
    print("%.9f" % math.sqrt(vbv / vv))


main()
