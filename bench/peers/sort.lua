-- sort.lua — twin of bench/programs/sort.mir: a table of N pseudo-random
-- integers from x = x * 48271 % 2147483647 (seed 42; products stay below 2^47,
-- exact in LuaJIT's doubles), sorted with table.sort, checksum
-- c = (c * 31 + a[i]) % 1000000007 over the sorted elements.
local n = tonumber(arg[1]) or 3000000
local a = {}
local x = 42
for i = 1, n do
  x = x * 48271 % 2147483647
  a[i] = x
end
table.sort(a)
local c = 0
for j = 1, n do
  c = (c * 31 + a[j]) % 1000000007
end
print(string.format("%d", c))
