# map.py — twin of bench/programs/map.mir: a dict with the N integer keys
# key(i) = i * 7919 % 1000003: insert key(i) -> i, look every key up again,
# probe the keys i * 31 % 1000003, add i % 10 to every value, delete the keys
# of the even i, sum the remaining values; prints the same combined checksum.
import sys


def key(i):
    return i * 7919 % 1000003


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    m = {}
    for i in range(n):
        m[key(i)] = i
    total = 0
    for j in range(n):
        total += m[key(j)]
    hits = 0
    for p in range(n):
        if p * 31 % 1000003 in m:
            hits += 1
    for u in range(n):
        k = key(u)
        m[k] = m[k] + u % 10
    deleted = 0
    for e in range(0, n, 2):
        if m.pop(key(e), None) is not None:
            deleted += 1
    size = len(m)
    rest = 0
    for v in m.values():
        rest += v
    print(total + hits + deleted + size * 3 + rest)


main()
