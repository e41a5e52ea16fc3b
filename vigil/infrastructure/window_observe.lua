-- The window store's observe script; vigil/infrastructure/window_script.py says what it does.
-- KEYS: the histories, then the rings of places of the label histories. ARGV: the number of
-- layouts; per layout its horizon, retention, number of fields, its kind (0 plain, 1 with time
-- since last, 2 a label history: its one field is the label slot), its windows (count, then
-- seconds), a label history's delay, and its outputs (count, then window, field and aggregation
-- code of each, 1-based; a label history's codes are 0 count and 1 fraud rate); the TTL (0:
-- none); the batch: per (record, layout) the layout's number (uint8), its key's slot (uint32)
-- and the record's entry, and after a label history's entry its ring key's number among the
-- rings (uint32), the byte at which the entity starts in its history's key (uint32) and the
-- record's key (8 bytes); then the number of rings. Returns per (record, layout) its features
-- as doubles in `HistoryLayout.names` order, NaN for None, concatenated.
local NAN = 0 / 0
local LIMIT = 7000  -- numbers one struct.unpack returns at most: Lua's C stack holds 8,000
local MGET = 1000  -- keys one MGET reads at most
local floor, sub, concat, pack, unpack, read = math.floor, string.sub, table.concat, struct.pack,
  unpack, struct.unpack
local pos = 2
local layouts = {}
for l = 1, tonumber(ARGV[1]) do
  local nfields, nwindows = tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 4])
  local stride = 2 + nfields
  local layout = {horizon = tonumber(ARGV[pos]), retention = tonumber(ARGV[pos + 1]),
    since_last = ARGV[pos + 3] == '1', delayed = ARGV[pos + 3] == '2', windows = {},
    outputs = {}, reach = 0, starts = {},
    stride = stride, size = 8 * stride, formats = {}, per_read = floor(LIMIT / stride)}
  layout.epoch = layout.horizon / 4
  pos = pos + 5
  for w = 1, nwindows do
    layout.windows[w] = tonumber(ARGV[pos])
    pos = pos + 1
  end
  if layout.delayed then
    layout.delay = tonumber(ARGV[pos])
    pos = pos + 1
  end
  for o = 1, tonumber(ARGV[pos]) do
    local spec = {tonumber(ARGV[pos + 1]), tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 3])}
    layout.outputs[o] = spec
    if spec[3] ~= 0 and spec[1] > layout.reach then
      layout.reach = spec[1]  -- the widest window that reads a field
    end
    pos = pos + 3
  end
  pos = pos + 1
  layouts[l] = layout
end
local ttl = tonumber(ARGV[pos])
local batch = ARGV[pos + 1]
local nh = #KEYS - tonumber(ARGV[pos + 2])  -- the histories; the rings come after them

-- The history being read: entries 1..nb in blob, the ones after in tail, size bytes each.
local blob, nb, tail, size = '', 0, '', 8

-- Entry k read with format.
local function entry(format, k)
  if k <= nb then return read(format, blob, (k - 1) * size + 1) end
  return read(format, tail, (k - nb - 1) * size + 1)
end

-- The first index in first..last whose event time is above bound (last + 1 if none), or with
-- at_least, at least bound.
local function search(first, last, bound, at_least)
  local past = last + 1
  while first < past do
    local mid = floor((first + past) / 2)
    local t  -- entry(mid), inlined: this is the hottest loop
    if mid <= nb then
      t = read('<d', blob, (mid - 1) * size + 1)
    else
      t = read('<d', tail, (mid - nb - 1) * size + 1)
    end
    if t > bound or (at_least and t == bound) then past = mid else first = mid + 1 end
  end
  return first
end

-- The first index in 1..n whose (event time, digest) is not below (at, digest).
local function place(n, at, digest)
  local first, past = 1, n + 1
  while first < past do
    local mid = floor((first + past) / 2)
    local t, d = entry('<dd', mid)
    if t > at or (t == at and d >= digest) then past = mid else first = mid + 1 end
  end
  return first
end

-- Entries first..last of text as one list of numbers, stride to an entry, appended to list
-- from index base + 1 (or a new list), in as few reads as the stack allows.
local function numbers_of(text, layout, first, last, list, base)
  local stride, done, count = layout.stride, 0, last - first + 1
  base = base or 0
  while done < count do
    local m = math.min(count - done, layout.per_read)
    local format = layout.formats[m]
    if not format then
      format = '<' .. string.rep('d', m * stride)
      layout.formats[m] = format
    end
    local part = {read(format, text, (first + done - 1) * size + 1)}
    if list == nil then
      list = part
    else
      local at_end = base + done * stride
      for j = 1, m * stride do list[at_end + j] = part[j] end
    end
    done = done + m
  end
  return list or {}
end

-- Entries first..last of the history as one list of numbers, stride to an entry.
local function rows(layout, first, last)
  if first > nb then return numbers_of(tail, layout, first - nb, last - nb) end
  local list = numbers_of(blob, layout, first, math.min(last, nb))
  if last <= nb then return list end
  return numbers_of(tail, layout, 1, last - nb, list, (nb - first + 1) * layout.stride)
end

-- The aggregate of every stride-th number of list from a to b, skipping missing (NaN) ones:
-- the arithmetic of vigil.domain.feature_windows.aggregate, operation for operation.
local function aggregate(list, a, b, stride, code)
  if code == 4 or code == 5 then
    local best = false
    for k = a, b, stride do
      local v = list[k]
      if v == v then
        if best == false or (code == 4 and v < best) or (code == 5 and v > best) then
          best = v
        end
      end
    end
    if best == false then return NAN end
    return best
  end
  local total, count = 0.0, 0
  for k = a, b, stride do
    local v = list[k]
    if v == v then
      total = total + v
      count = count + 1
    end
  end
  if count == 0 then return NAN end
  if code == 1 then return total end
  local mean = total / count
  if code == 2 then return mean end
  local squares = 0.0
  for k = a, b, stride do
    local v = list[k]
    if v == v then squares = squares + (v - mean) * (v - mean) end
  end
  return math.sqrt(squares / count)
end

-- Per key: its history as read or last rewritten, the entries appended since (its tail),
-- whether it was rewritten, its layout, its latest event time, and whether to trim it.
local blobs, tails, rewritten, owners, latest, trim = {}, {}, {}, {}, {}, {}
for first = 1, nh, MGET do
  local last = math.min(first + MGET - 1, nh)
  local got = redis.call('MGET', unpack(KEYS, first, last))
  for k = first, last do blobs[k], tails[k] = got[k - first + 1] or '', '' end
end

-- Makes the history of key slot, which the record (at, digest, record) joins, the one being
-- read. Returns its number of entries, the record's index and the last index of its event
-- time, and the history's latest event time; with alone true, the record is later than the
-- retention: it sees only itself and joins nothing.
local function join(layout, slot, at, digest, record)
  blob, tail, size = blobs[slot], tails[slot], layout.size
  nb = #blob / size
  local n = nb + #tail / size
  local newest, before = at, n > 0 and entry('<d', n)
  if before and before > at then newest = before end
  owners[slot], latest[slot] = layout, newest
  if at < newest - layout.retention then
    blob, nb, tail = record, 1, ''
    return 1, 1, 1, newest, true
  end
  local own = n + 1
  if before and at <= before then own = place(n, at, digest) end
  if own > n then  -- the common case, records in event-time order: it goes at the end
    tail = tail .. record
    tails[slot] = tail
    return own, own, own, newest, false
  end
  local t, d = entry('<dd', own)
  if t ~= at or d ~= digest then  -- not a redelivery: the record goes in at own
    local whole = blob .. tail
    blob = sub(whole, 1, (own - 1) * size) .. record .. sub(whole, (own - 1) * size + 1)
    nb, tail, n = n + 1, '', n + 1
    blobs[slot], tails[slot], rewritten[slot] = blob, tail, true
  end
  return n, own, search(own, n, at) - 1, newest, false
end

-- Every answer's features, one after the other, and how many there are.
local answers, count = {}, 0

-- Appends a label history's features for the record at `at` to answers, as
-- vigil.application.features.windows._label_values has them: entries s..e are the retained ones
-- of (at - horizon, at], so each window (at - delay - w, at - delay] lies among them.
local function delayed(layout, s, e, at)
  local outputs, windows, stride = layout.outputs, layout.windows, layout.stride
  local stop = at - layout.delay
  local last = search(s, e, stop) - 1
  local list
  for o = 1, #outputs do
    local spec = outputs[o]
    local first = search(s, last, stop - windows[spec[1]])
    local n = last - first + 1
    if spec[3] == 0 then
      answers[count + o] = n
    elseif n == 0 then
      answers[count + o] = 0
    else
      list = list or rows(layout, s, last)
      local frauds = 0
      for k = (first - s) * stride + 3, (last - s) * stride + 3, stride do
        if list[k] == 1 then frauds = frauds + 1 end
      end
      answers[count + o] = frauds / n
    end
  end
  count = count + #outputs
end

-- Appends the features of a history of fields for the record at `at` to answers: entries s..e
-- are the retained ones of its widest window.
local function windowed(layout, s, e, at)
  local stride, windows, starts, reach = layout.stride, layout.windows, layout.starts, layout.reach
  starts[#windows] = s
  for w = #windows - 1, math.max(reach, 1), -1 do
    starts[w] = search(starts[w + 1], e, at - windows[w])
  end
  local list, base
  if reach > 0 then
    base = starts[reach]
    list = rows(layout, base, e)
    for w = reach - 1, 1, -1 do  -- in list, not in the history
      local first, past, bound = starts[w + 1], e + 1, at - windows[w]
      while first < past do
        local mid = floor((first + past) / 2)
        if list[(mid - base) * stride + 1] > bound then past = mid else first = mid + 1 end
      end
      starts[w] = first
    end
  end
  local outputs = layout.outputs
  for o = 1, #outputs do
    local spec = outputs[o]
    local first = starts[spec[1]]
    if spec[3] == 0 then
      answers[count + o] = e - first + 1
    else
      local column = 2 + spec[2]
      answers[count + o] = aggregate(list, (first - base) * stride + column,
        (e - base) * stride + column, stride, spec[3])
    end
  end
  count = count + #outputs
end

-- Appends the record's features to answers, as vigil.application.features.windows.window_values
-- has them.
local function observe(layout, slot, at, digest, record)
  local n, own, e, newest, alone = join(layout, slot, at, digest, record)
  local cut, low = newest - layout.retention, at - layout.horizon
  local s = 1  -- the first entry of the widest window
  if alone then
    s = 1
  elseif cut > low then
    s = search(1, e, cut, true)
  else
    s = search(1, e, low)
  end
  if layout.delayed then
    delayed(layout, s, e, at)
  else
    windowed(layout, s, e, at)
  end
  local previous = false  -- the latest entry of the widest window but the record itself
  if e ~= own then previous = e elseif own > s then previous = own - 1 end
  local before = previous and entry('<d', previous)
  if at == newest and not alone then  -- the latest record: trim when it enters a new quarter
    if not before or floor(before / layout.epoch) ~= floor(at / layout.epoch) then
      trim[slot] = true
    end
  end
  if layout.since_last then
    local gap = NAN
    if before then
      gap = at - before
    elseif not alone and cut <= low and s > 1 then
      local earlier = entry('<d', s - 1)
      if earlier >= cut then gap = at - earlier end
    end
    count = count + 1
    answers[count] = gap
  end
  return not alone
end

-- Per ring: the bucket it holds (false: none yet), whether it held an earlier one, and the
-- fields and values to set, field after value; per history key, its entity.
local held, cleared, places, entities = {}, {}, {}, {}

-- Keeps the place of the record (at, its event time as stored, key) in ring r, as
-- vigil.application.features.record_places.PlaceRing.keep does.
local function keep_place(layout, r, offset, slot, at, stored_at, key)
  local number = floor(at / layout.epoch)
  local bucket = held[r]
  if bucket == nil then
    bucket = tonumber(redis.call('HGET', KEYS[nh + r], '') or '') or false
    held[r], places[r] = bucket, {}
  end
  if bucket and bucket > number then return end  -- older than the retention
  if bucket ~= number then
    if bucket then cleared[r] = true end
    held[r], places[r] = number, {}
  end
  local entity = entities[slot]
  if entity == nil then
    entity = sub(KEYS[slot], offset + 1)
    entities[slot] = entity
  end
  local list = places[r]
  list[#list + 1] = key
  list[#list + 1] = stored_at .. entity
end

local p = 1
while p <= #batch do
  local number, slot = read('<BI4', batch, p)
  local layout = layouts[number]
  local at, digest = read('<dd', batch, p + 5)
  local kept = observe(layout, slot, at, digest, sub(batch, p + 5, p + 4 + layout.size))
  p = p + 5 + layout.size
  if layout.delayed then
    if kept then
      local r, offset = read('<I4I4', batch, p)
      keep_place(layout, r, offset, slot, at, sub(batch, p - layout.size, p - layout.size + 7),
        sub(batch, p + 8, p + 15))
    end
    p = p + 16
  end
end
for r, list in pairs(places) do
  local key = KEYS[nh + r]
  if #list > 0 then
    if cleared[r] then redis.call('UNLINK', key) end  -- freed off the main thread when large
    local number = string.format('%.0f', held[r])
    for first = 1, #list, LIMIT do
      local last = math.min(first + LIMIT - 1, #list)
      if first == 1 then
        redis.call('HSET', key, '', number, unpack(list, first, last))
      else
        redis.call('HSET', key, unpack(list, first, last))
      end
    end
    if ttl > 0 then redis.call('EXPIRE', key, ttl) end
  end
end
for slot, layout in pairs(owners) do
  local key = KEYS[slot]
  blob, tail, size = blobs[slot], tails[slot], layout.size
  if trim[slot] then
    nb = #blob / size
    local kept = search(1, nb + #tail / size, latest[slot] - layout.retention, true)
    if kept <= nb then
      blob = sub(blob, (kept - 1) * size + 1) .. tail
    else
      blob = sub(tail, (kept - nb - 1) * size + 1)
    end
    if ttl > 0 then redis.call('SET', key, blob, 'EX', ttl) else redis.call('SET', key, blob) end
  elseif rewritten[slot] then
    redis.call('SET', key, blob .. tail, 'KEEPTTL')
  elseif tail ~= '' then
    redis.call('APPEND', key, tail)
  end
end
local replies = {}
for first = 1, count, LIMIT do
  local last = math.min(first + LIMIT - 1, count)
  replies[#replies + 1] = pack('<' .. string.rep('d', last - first + 1),
    unpack(answers, first, last))
end
return concat(replies)
