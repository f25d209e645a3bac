-- The script tests/real/lua.sh runs: Lua code whose C frames are left by
-- longjmp all the time (errors caught by pcall, coroutine yields, which
-- unwind the C stack back to resume), and ordinary work around it. Its
-- output is a checksum of what it computed.
local sum = 0

-- errors thrown from a few levels down, caught by pcall
local function thrower(i, depth)
  if depth > 0 then return thrower(i, depth - 1) + 1 end
  if i % 3 == 0 then error({code = i}) end
  if i % 3 == 1 then error("failed at " .. i) end
  return i
end
for i = 1, 2000 do
  local ok, v = pcall(thrower, i, i % 7)
  if ok then sum = sum + v elseif type(v) == "table" then sum = sum + v.code
  else sum = sum + #v end
end

-- deep recursion through C (string.gsub calling back into Lua), then an error
local function deep(n)
  if n == 0 then error("bottom") end
  return (string.gsub("x", "x", function() return deep(n - 1) end))
end
for _ = 1, 20 do
  local ok, msg = pcall(deep, 60)
  sum = sum + (ok and 1 or #msg)
end

-- xpcall with a message handler that builds a traceback
for i = 1, 200 do
  local ok, tb = xpcall(thrower, debug.traceback, i * 3 + 1, 4)
  sum = sum + (ok and 0 or select(2, string.gsub(tb, "\n", "\n")))
end

-- coroutines: every yield longjmps out of the C function coroutine.yield
local gen = coroutine.wrap(function()
  for i = 1, 3000 do coroutine.yield(i) end
end)
for _ = 1, 3000 do sum = sum + gen() end

-- yields from inside pcall inside a coroutine, and errors inside coroutines
for round = 1, 100 do
  local co = coroutine.create(function(a)
    local ok = pcall(function()
      for k = 1, 5 do a = a + coroutine.yield(k) end
      if round % 2 == 0 then error("odd round") end
    end)
    return ok and a or -a
  end)
  local ok, v = coroutine.resume(co, round)
  while coroutine.status(co) ~= "dead" do ok, v = coroutine.resume(co, v) end
  sum = sum + (ok and v or 0)
end
local co = coroutine.create(function() error("inside") end)
sum = sum + #select(2, coroutine.resume(co))

-- ordinary work: strings, small sorts (no random pivot below 100 items)
local words = {}
for i = 1, 500 do words[#words + 1] = string.format("%05d:%s", (i * 7919) % 1000, string.rep("a", i % 5)) end
for i = 1, #words, 50 do
  local part = table.move(words, i, i + 49, 1, {})
  table.sort(part)
  sum = sum + #table.concat(part, ",")
end
for w in string.gmatch(table.concat(words, " "), "%d+") do sum = sum + tonumber(w) end

print(sum)
