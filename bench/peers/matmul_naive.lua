-- matmul_naive.lua — twin of bench/programs/matmul_naive.mir: C = A * B for
-- two N x N matrices in flat, row-major tables of floats (element [i][j],
-- counted from 0, at i * N + j + 1), naive i, j, k loops;
-- a[i][j] = ((7i + 3j) % 100) / 100.0, b[i][j] = ((5i + 11j) % 100) / 100.0;
-- prints the weighted sum of C's elements, c[idx] * (idx % 7 + 1) over the
-- 0-based row-major index idx, with 6 decimals.
local function fill(n, ci, cj)
  local m = {}
  for i = 0, n - 1 do
    for j = 0, n - 1 do
      m[#m + 1] = ((ci * i + cj * j) % 100) / 100.0
    end
  end
  return m
end

local function matmul(a, b, n)
  local c = {}
  for idx = 1, n * n do
    c[idx] = 0.0
  end
  for i = 0, n - 1 do
    local i_n = i * n
    for j = 0, n - 1 do
      local s = 0.0
      for k = 0, n - 1 do
        s = s + a[i_n + k + 1] * b[k * n + j + 1]
      end
      c[i_n + j + 1] = s
    end
  end
  return c
end

local n = tonumber(arg[1]) or 200
local a = fill(n, 7, 3)
local b = fill(n, 5, 11)
local c = matmul(a, b, n)
local s = 0.0
for i = 0, n * n - 1 do
  s = s + c[i + 1] * (i % 7 + 1)
end
print(string.format("%.6f", s))
