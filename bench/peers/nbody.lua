-- nbody.lua — twin of bench/programs/nbody.mir: the Benchmarks Game n-body
-- simulation (Sun and four gas giants, dt = 0.01), N steps, with the bodies'
-- state in one flat table of floats, 7 per body: x, y, z, vx, vy, vz, mass
-- (body i, counted from 0, at 7 * i + 1 .. 7 * i + 7).
-- Prints the energy before and after, each with 9 decimals, on one line.
local sqrt = math.sqrt

local PI = 3.141592653589793
local SOLAR_MASS = 4.0 * PI * PI
local DAYS_PER_YEAR = 365.24

local function body(b, x, y, z, vx, vy, vz, mass)
  b[#b + 1] = x
  b[#b + 1] = y
  b[#b + 1] = z
  b[#b + 1] = vx * DAYS_PER_YEAR
  b[#b + 1] = vy * DAYS_PER_YEAR
  b[#b + 1] = vz * DAYS_PER_YEAR
  b[#b + 1] = mass * SOLAR_MASS
end

local function offset_momentum(b, nb)
  local px, py, pz = 0.0, 0.0, 0.0
  for i = 0, nb - 1 do
    local base = i * 7
    local m = b[base + 7]
    px = px + b[base + 4] * m
    py = py + b[base + 5] * m
    pz = pz + b[base + 6] * m
  end
  b[4] = px * -1.0 / SOLAR_MASS
  b[5] = py * -1.0 / SOLAR_MASS
  b[6] = pz * -1.0 / SOLAR_MASS
end

local function energy(b, nb)
  local e = 0.0
  for i = 0, nb - 1 do
    local bi = i * 7
    local xi, yi, zi = b[bi + 1], b[bi + 2], b[bi + 3]
    local vx, vy, vz = b[bi + 4], b[bi + 5], b[bi + 6]
    local mi = b[bi + 7]
    e = e + 0.5 * mi * (vx * vx + vy * vy + vz * vz)
    for j = i + 1, nb - 1 do
      local bj = j * 7
      local dx = xi - b[bj + 1]
      local dy = yi - b[bj + 2]
      local dz = zi - b[bj + 3]
      local dist = sqrt(dx * dx + dy * dy + dz * dz)
      e = e - mi * b[bj + 7] / dist
    end
  end
  return e
end

local function advance(b, nb, dt)
  for i = 0, nb - 1 do
    local bi = i * 7
    local xi, yi, zi = b[bi + 1], b[bi + 2], b[bi + 3]
    local mi = b[bi + 7]
    for j = i + 1, nb - 1 do
      local bj = j * 7
      local dx = xi - b[bj + 1]
      local dy = yi - b[bj + 2]
      local dz = zi - b[bj + 3]
      local d2 = dx * dx + dy * dy + dz * dz
      local mag = dt / (d2 * sqrt(d2))
      local mj = b[bj + 7]
      b[bi + 4] = b[bi + 4] - dx * mj * mag
      b[bi + 5] = b[bi + 5] - dy * mj * mag
      b[bi + 6] = b[bi + 6] - dz * mj * mag
      b[bj + 4] = b[bj + 4] + dx * mi * mag
      b[bj + 5] = b[bj + 5] + dy * mi * mag
      b[bj + 6] = b[bj + 6] + dz * mi * mag
    end
  end
  for k = 0, nb - 1 do
    local bk = k * 7
    b[bk + 1] = b[bk + 1] + dt * b[bk + 4]
    b[bk + 2] = b[bk + 2] + dt * b[bk + 5]
    b[bk + 3] = b[bk + 3] + dt * b[bk + 6]
  end
end

local n = tonumber(arg[1]) or 250000
local b = {}
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
local e0 = energy(b, 5)
for _ = 1, n do
  advance(b, 5, 0.01)
end
local e1 = energy(b, 5)
print(string.format("%.9f %.9f", e0, e1))
