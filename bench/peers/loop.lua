-- loop.lua — twin of bench/programs/loop.mir: sum += i + i % 7 for i in 0..N.
-- Runs under Lua 5.4 (integers) and LuaJIT (doubles; the sum stays below 2^53).
local n = tonumber(arg[1]) or 100000000
local sum = 0
for i = 0, n - 1 do
  sum = sum + (i + i % 7)
end
print(string.format("%d", sum))
