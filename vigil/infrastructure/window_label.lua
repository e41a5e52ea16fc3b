-- The window store's label script; vigil/infrastructure/window_script.py says what it does.
-- KEYS: label histories. ARGV: the size of their entries in bytes, then the labels: per label
-- its key's slot (uint32), then as little-endian doubles the history's retention, the record's
-- event time and digest, and its label (NaN: unknown). An entry older than the retention before
-- the history's latest one is no longer kept (no record reads it; the in-process store has
-- forgotten it already), so it is not set. Returns how many label slots were set.
local floor, read, pack = math.floor, struct.unpack, struct.pack
local size, batch = tonumber(ARGV[1]), ARGV[2]
local histories, set = {}, 0
local p = 1
while p <= #batch do
  local slot, retention, at, digest, label = read('<I4dddd', batch, p)
  p = p + 36
  local history = histories[slot]
  if history == nil then
    history = redis.call('GET', KEYS[slot]) or ''
    histories[slot] = history  -- setting labels moves no entry: the one read serves them all
  end
  local n = #history / size
  if n > 0 and at >= read('<d', history, (n - 1) * size + 1) - retention then
    -- The first entry whose (event time, digest) is not below (at, digest), as observe places it.
    local first, past = 1, n + 1
    while first < past do
      local mid = floor((first + past) / 2)
      local t, d = read('<dd', history, (mid - 1) * size + 1)
      if t > at or (t == at and d >= digest) then past = mid else first = mid + 1 end
    end
    if first <= n then
      local t, d = read('<dd', history, (first - 1) * size + 1)
      if t == at and d == digest then
        redis.call('SETRANGE', KEYS[slot], (first - 1) * size + 16, pack('<d', label))
        set = set + 1
      end
    end
  end
end
return set
