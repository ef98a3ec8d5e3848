# sort.py — twin of bench/programs/sort.mir: a list of N pseudo-random ints
# from x = x * 48271 % 2147483647 (seed 42), sorted with list.sort, checksum
# c = (c * 31 + a[i]) % 1000000007 over the sorted list.
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000000
    a = []
    x = 42
    for _ in range(n):
        x = x * 48271 % 2147483647
        a.append(x)
    a.sort()
    c = 0
    for j in range(n):
        c = (c * 31 + a[j]) % 1000000007
    print(c)


main()
