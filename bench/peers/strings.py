# strings.py — twin of bench/programs/strings.mir: builds one string of N words
# ("w" + str(i * 7919 % 10007) + ",") by += in a loop (CPython appends in place
# when the string is unique), splits it on ",", sums the parts' lengths and
# counts those starting with "w1", joins with " ", replaces "w1" by "ab",
# upper-cases, and looks up three substrings; prints the combined checksum.
import sys


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    text = ""
    for i in range(n):
        word = "w" + str(i * 7919 % 10007)
        text += word
        text += ","
    parts = text.split(",")
    lens = 0
    w1s = 0
    for part in parts:
        lens += len(part)
        if part.startswith("w1"):
            w1s += 1
    joined = " ".join(parts)
    replaced = joined.replace("w1", "ab")
    upper = replaced.upper()
    x1 = replaced.find("w9999 ")
    x2 = upper.find("AB0 ")
    x3 = upper.find("w")
    print(lens + w1s * 1000 + len(joined) + len(replaced) + len(upper) + x1 + x2 + x3)


main()
