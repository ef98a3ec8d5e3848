-- methods.lua — twin of bench/programs/methods.mir: N calls of a method
-- that updates a table's fields; prints the sum of the results mod 1000.
local Counter = {}
Counter.__index = Counter

function Counter.new(n, step)
  return setmetatable({n = n, step = step}, Counter)
end

function Counter:advance(i)
  local n = self.n + self.step + i % 7
  self.n = n
  return n
end

local n = tonumber(arg[1]) or 10000000
local c = Counter.new(0, 3)
local sum = 0
for i = 0, n - 1 do
  sum = sum + c:advance(i) % 1000
end
print(string.format("%d", sum))
