-- strings.lua — twin of bench/programs/strings.mir: builds one string of N
-- words ("w" .. (i * 7919 % 10007) .. ","), splits it on ",", sums the parts'
-- lengths and counts those starting with "w1", joins with " ", replaces "w1" by
-- "ab", upper-cases, and looks up three substrings; prints the same checksum.
-- Lua strings are immutable and `s = s .. piece` in a loop is quadratic, so the
-- string is built the Lua way, in a buffer table joined by table.concat. Lua has
-- no split: `split` below scans with a plain string.find (keeping empty parts,
-- as StringBox.split does). Indices are converted to 0-based, -1 if absent.
local function split(s, sep)
  local parts = {}
  local pos = 1
  while true do
    local at = string.find(s, sep, pos, true)
    if not at then
      parts[#parts + 1] = string.sub(s, pos)
      return parts
    end
    parts[#parts + 1] = string.sub(s, pos, at - 1)
    pos = at + #sep
  end
end

local function index_of(s, sub)
  local at = string.find(s, sub, 1, true)
  if at then
    return at - 1
  end
  return -1
end

local n = tonumber(arg[1]) or 1000000
local buf = {}
for i = 0, n - 1 do
  local word = "w" .. tostring(i * 7919 % 10007)
  buf[#buf + 1] = word
  buf[#buf + 1] = ","
end
local text = table.concat(buf)
local parts = split(text, ",")
local lens, w1s = 0, 0
for j = 1, #parts do
  local part = parts[j]
  lens = lens + #part
  if string.sub(part, 1, 2) == "w1" then
    w1s = w1s + 1
  end
end
local joined = table.concat(parts, " ")
local replaced = string.gsub(joined, "w1", "ab")
local upper = string.upper(replaced)
local x1 = index_of(replaced, "w9999 ")
local x2 = index_of(upper, "AB0 ")
local x3 = index_of(upper, "w")
print(string.format("%d", lens + w1s * 1000 + #joined + #replaced + #upper + x1 + x2 + x3))
