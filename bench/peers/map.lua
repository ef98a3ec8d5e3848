-- map.lua — twin of bench/programs/map.mir: a table with the N integer keys
-- key(i) = i * 7919 % 1000003: insert key(i) -> i, look every key up again,
-- probe the keys i * 31 % 1000003, add i % 10 to every value, delete the keys
-- of the even i, sum the remaining values; prints the same combined checksum.
-- Lua tables keep no count of their hash part, so the size is counted while
-- summing the remaining values with pairs.
local function key(i)
  return i * 7919 % 1000003
end

local n = tonumber(arg[1]) or 200000
local m = {}
for i = 0, n - 1 do
  m[key(i)] = i
end
local total = 0
for j = 0, n - 1 do
  total = total + m[key(j)]
end
local hits = 0
for p = 0, n - 1 do
  if m[p * 31 % 1000003] ~= nil then
    hits = hits + 1
  end
end
for u = 0, n - 1 do
  local k = key(u)
  m[k] = m[k] + u % 10
end
local deleted = 0
for e = 0, n - 1, 2 do
  local k = key(e)
  if m[k] ~= nil then
    m[k] = nil
    deleted = deleted + 1
  end
end
local size, rest = 0, 0
for _, v in pairs(m) do
  size = size + 1
  rest = rest + v
end
print(string.format("%d", total + hits + deleted + size * 3 + rest))
