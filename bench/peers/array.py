# array.py — twin of bench/programs/array.mir: a list of N ints built by
# append (a[i] = i * 7 % 1000), 20 passes of a[i] = (a[i] + a[i - 1]) % 1000007
# for i in 1..N, then the sum of the elements.
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    a = []
    for i in range(n):
        a.append(i * 7 % 1000)
    for _ in range(20):
        for j in range(1, n):
            a[j] = (a[j] + a[j - 1]) % 1000007
    s = 0
    for m in range(n):
        s += a[m]
    print(s)


main()
