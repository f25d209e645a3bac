-- The script bench/lua.sh runs: call-heavy, deterministic work for the Lua
-- interpreter (function calls, table operations, string operations), about
-- a second uninstrumented at -O2 with the default size. Its output is a
-- checksum of what it computed, the same in every build. No error is thrown:
-- a longjmp out of C frames would make uftrace lose its place in the stack.
--   lua bench/calls.lua [SCALE]
local scale = tonumber(arg and arg[1]) or 1
local sum = 0

-- Lua calls: recursion, closures, varargs, methods
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end
local function add(...)
  local s = 0
  for i = 1, select("#", ...) do s = s + select(i, ...) end
  return s
end
local Point = {}
Point.__index = Point
function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
function Point:len2() return self.x * self.x + self.y * self.y end

-- tables: insert, remove, sort with a Lua comparator, concat, pairs
local function tables(n)
  local t, s = {}, 0
  for i = 1, n do table.insert(t, (i * 7919) % 1009) end
  table.sort(t, function(a, b) return a > b end)
  for _ = 1, n // 2 do s = s + table.remove(t) end
  local h = {}
  for i = 1, n do h["k" .. (i % 97)] = (h["k" .. (i % 97)] or 0) + i end
  for _, v in pairs(h) do s = s + v end
  return s + #table.concat(t, ",", 1, 50)
end

-- strings: format, gsub with a Lua callback, find, byte, upper, rep
local function strings(n)
  local s = 0
  for i = 1, n do
    local w = string.format("%d:%s", i, string.rep("ab", i % 7))
    w = w:gsub("a", function(c) return c:upper() end)
    s = s + #w + (w:find("B", 1, true) or 0) + w:byte(1)
  end
  return s
end

for round = 1, 170 * scale do
  sum = sum + fib(20)
  for i = 1, 2000 do
    sum = sum + add(i, 1, 2, 3) + Point.new(i, round):len2() % 13
  end
  sum = sum + tables(3000) + strings(2000)
end

print(sum)
