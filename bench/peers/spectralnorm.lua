-- spectralnorm.lua — twin of bench/programs/spectralnorm.mir: the Benchmarks
-- Game spectral norm of A(i, j) = 1 / ((i + j) * (i + j + 1) / 2 + i + 1),
-- N x N, 10 rounds of the power method on A^T A; prints sqrt(u.v / v.v).
-- Indices i, j count from 0 as in the MIR program; vectors are 1-based tables.
-- (i + j) * (i + j + 1) is even, so `/ 2` is exact under Lua 5.4 and LuaJIT.
local function a(i, j)
  local ij = i + j
  return 1.0 / (ij * (ij + 1) / 2 + i + 1)
end

local function mult_av(v, out, n)
  for i = 0, n - 1 do
    local s = 0.0
    for j = 0, n - 1 do
      s = s + a(i, j) * v[j + 1]
    end
    out[i + 1] = s
  end
end

local function mult_atv(v, out, n)
  for i = 0, n - 1 do
    local s = 0.0
    for j = 0, n - 1 do
      s = s + a(j, i) * v[j + 1]
    end
    out[i + 1] = s
  end
end

local function mult_atav(v, out, tmp, n)
  mult_av(v, tmp, n)
  mult_atv(tmp, out, n)
end

local n = tonumber(arg[1]) or 500
local u, v, tmp = {}, {}, {}
for i = 1, n do
  u[i] = 1.0
  v[i] = 0.0
  tmp[i] = 0.0
end
for _ = 1, 10 do
  mult_atav(u, v, tmp, n)
  mult_atav(v, u, tmp, n)
end
local vbv, vv = 0.0, 0.0
for i = 1, n do
  vbv = vbv + u[i] * v[i]
  vv = vv + v[i] * v[i]
end
print(string.format("%.9f", math.sqrt(vbv / vv)))
