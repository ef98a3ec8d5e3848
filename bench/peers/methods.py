# methods.py — twin of bench/programs/methods.mir: N calls of a method that
# updates an object's fields; prints the sum of the results mod 1000.
import sys


class Counter:
    def __init__(self, n, step):
        self.n = n
        self.step = step

    def advance(self, i):
        n = self.n + self.step + i % 7
        self.n = n
        return n


n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000000
c = Counter(0, 3)
total = 0
for i in range(n):
    total += c.advance(i) % 1000
print(total)
