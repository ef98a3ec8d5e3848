# loop.py — twin of bench/programs/loop.mir: sum += i + i % 7 for i in 0..N.
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000000
    total = 0
    for i in range(n):
        total += i + i % 7
    print(total)


main()
