# matmul_naive.py — twin of bench/programs/matmul_naive.mir: C = A * B for two
# N x N matrices in flat, row-major lists of floats, naive i, j, k loops;
# a[i][j] = ((7i + 3j) % 100) / 100.0, b[i][j] = ((5i + 11j) % 100) / 100.0;
# prints the weighted sum of C's elements, c[idx] * (idx % 7 + 1), 6 decimals.
import sys


def fill(n, ci, cj):
    m = []
    for i in range(n):
        for j in range(n):
            m.append(float((ci * i + cj * j) % 100) / 100.0)
    return m


def matmul(a, b, n):
    c = [0.0] * (n * n)
    for i in range(n):
        i_n = i * n
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += a[i_n + k] * b[k * n + j]
            c[i_n + j] = s
    return c


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    a = fill(n, 7, 3)
    b = fill(n, 5, 11)
    c = matmul(a, b, n)
    s = 0.0
    for i in range(n * n):
        s += c[i] * float(i % 7 + 1)
    print("%.6f" % s)


main()
