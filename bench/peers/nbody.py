# nbody.py — twin of bench/programs/nbody.mir: the Benchmarks Game n-body
# simulation (Sun and four gas giants, dt = 0.01), N steps, with the bodies'
# state in one flat list of floats, 7 per body: x, y, z, vx, vy, vz, mass.
# Prints the energy before and after, each with 9 decimals, on one line.
import math
import sys

PI = 3.141592653589793
SOLAR_MASS = 4.0 * PI * PI
DAYS_PER_YEAR = 365.24


def body(b, x, y, z, vx, vy, vz, mass):
    b.append(x)
    b.append(y)
    b.append(z)
    b.append(vx * DAYS_PER_YEAR)
    b.append(vy * DAYS_PER_YEAR)
    b.append(vz * DAYS_PER_YEAR)
    b.append(mass * SOLAR_MASS)


def offset_momentum(b, nb):
    px = py = pz = 0.0
    for i in range(nb):
        base = i * 7
        m = b[base + 6]
        px += b[base + 3] * m
        py += b[base + 4] * m
        pz += b[base + 5] * m
    b[3] = px * -1.0 / SOLAR_MASS
    b[4] = py * -1.0 / SOLAR_MASS
    b[5] = pz * -1.0 / SOLAR_MASS


def energy(b, nb):
    e = 0.0
    for i in range(nb):
        bi = i * 7
        xi = b[bi]
        yi = b[bi + 1]
        zi = b[bi + 2]
        vx = b[bi + 3]
        vy = b[bi + 4]
        vz = b[bi + 5]
        mi = b[bi + 6]
        e += 0.5 * mi * (vx * vx + vy * vy + vz * vz)
        for j in range(i + 1, nb):
            bj = j * 7
            dx = xi - b[bj]
            dy = yi - b[bj + 1]
            dz = zi - b[bj + 2]
            dist = math.sqrt(dx * dx + dy * dy + dz * dz)
            e -= mi * b[bj + 6] / dist
    return e


def advance(b, nb, dt):
    for i in range(nb):
        bi = i * 7
        xi = b[bi]
        yi = b[bi + 1]
        zi = b[bi + 2]
        mi = b[bi + 6]
        for j in range(i + 1, nb):
            bj = j * 7
            dx = xi - b[bj]
            dy = yi - b[bj + 1]
            dz = zi - b[bj + 2]
            d2 = dx * dx + dy * dy + dz * dz
            mag = dt / (d2 * math.sqrt(d2))
            mj = b[bj + 6]
            b[bi + 3] -= dx * mj * mag
            b[bi + 4] -= dy * mj * mag
            b[bi + 5] -= dz * mj * mag
            b[bj + 3] += dx * mi * mag
            b[bj + 4] += dy * mi * mag
            b[bj + 5] += dz * mi * mag
    for k in range(nb):
        bk = k * 7
        b[bk] += dt * b[bk + 3]
        b[bk + 1] += dt * b[bk + 4]
        b[bk + 2] += dt * b[bk + 5]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 250000
    b = []
    body(b, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    body(b, 4.841431442464721, -1.1603200440274284, -0.10362204447112311,
         0.001660076642744037, 0.007699011184197404, -6.90460016972063e-05, 0.0009547919384243266)
    body(b, 8.34336671824458, 4.124798564124305, -0.4035234171143214,
         -0.002767425107268624, 0.004998528012349172, 2.3041729757376393e-05, 0.0002858859806661308)
    body(b, 12.894369562139131, -15.111151401698631, -0.22330757889265573,
         0.002964601375647616, 0.0023784717395948095, -2.9658956854023756e-05, 4.366244043351563e-05)
    body(b, 15.379697114850917, -25.919314609987964, 0.17925877295037118,
         0.0026806777249038932, 0.001628241700382423, -9.515922545197159e-05, 5.1513890204661145e-05)
    offset_momentum(b, 5)
    e0 = energy(b, 5)
    for _ in range(n):
        advance(b, 5, 0.01)
    e1 = energy(b, 5)
    print("%.9f %.9f" % (e0, e1))


main()
