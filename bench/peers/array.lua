-- array.lua — twin of bench/programs/array.mir: a table of N integers (1-based)
-- built by appending (element i, counted from 0, is i * 7 % 1000), 20 passes of
-- a[j] = (a[j] + a[j - 1]) % 1000007 over the 2nd..Nth elements, then the sum.
-- Every value stays far below 2^53, so LuaJIT's doubles agree with Lua 5.4.
local n = tonumber(arg[1]) or 1000000
local a = {}
for i = 0, n - 1 do
  a[i + 1] = i * 7 % 1000
end
for _ = 1, 20 do
  for j = 2, n do
    a[j] = (a[j] + a[j - 1]) % 1000007
  end
end
local s = 0
for m = 1, n do
  s = s + a[m]
end
print(string.format("%d", s))
