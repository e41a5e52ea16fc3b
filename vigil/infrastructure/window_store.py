"""Window features from entity histories in Redis, shared by every worker.

One sorted set per (tenant, source, entity key field, history layout, entity value), scored by
event time; a member is the record id, then its event time and field values as doubles (see
`HistoryLayout.member`), so a redelivered record adds nothing. A batch is one script call: for
each record in order it adds the record, reads its history from the widest window's start once
(one ZRANGEBYSCORE, whose last entry is also the entity's latest), and computes every feature as
`vigil.application.features.windows.window_values` does, in the same order of operations, so
Redis and the in-process store agree to the last bit.

Numbers travel as little-endian doubles both ways (Lua's `struct`), never as text: exact, and
far cheaper to read than scores or text. A history is trimmed to its retention before the
entity's latest record whenever that latest record enters a new quarter of the widest window,
so it holds at most 2.25 widest windows; what lies beyond the retention is never read anyway.

Every key of a batch goes to one script call, so on Redis Cluster a batch must first be split
by hash slot (not done here).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from redis.asyncio import Redis

from vigil.application.features.windows import HistoryLayout, WindowInput, history_layouts
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_windows import AGGREGATION_CODES, value_text

OBSERVE = """
local NAN = 0 / 0
local FMT = '%.17g'
local pos = 2
local layouts = {}
for l = 1, tonumber(ARGV[1]) do
  local nfields, nwindows = tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 4])
  local layout = {horizon = tonumber(ARGV[pos]), retention = tonumber(ARGV[pos + 1]),
    nfields = nfields, since_last = ARGV[pos + 3] == '1', windows = {}, outputs = {},
    reach = {}, tail = 8 * (1 + nfields)}
  layout.epoch = layout.horizon / 4
  pos = pos + 5
  for w = 1, nwindows do
    layout.windows[w] = tonumber(ARGV[pos])
    pos = pos + 1
  end
  local noutputs = tonumber(ARGV[pos])
  pos = pos + 1
  for o = 1, noutputs do
    local spec = {tonumber(ARGV[pos]), tonumber(ARGV[pos + 1]), tonumber(ARGV[pos + 2])}
    layout.outputs[o] = spec
    if spec[3] ~= 0 and (layout.reach[spec[2]] or 0) < spec[1] then
      layout.reach[spec[2]] = spec[1]  -- the widest window that reads this field
    end
    pos = pos + 3
  end
  local nanswers = noutputs
  if layout.since_last then nanswers = nanswers + 1 end
  layout.answer = '<' .. string.rep('d', nanswers)
  layouts[l] = layout
end
local ttl = tonumber(ARGV[pos])
local batch = ARGV[pos + 1]

-- The event time of entry k, read from its member once, when first asked for.
local function time_of(ats, members, k, tail)
  local at = ats[k]
  if at == nil then
    local m = members[k]
    at = struct.unpack('<d', m, #m - tail + 1)
    ats[k] = at
  end
  return at
end

-- The first index in first..last whose event time is above bound (last + 1 if none).
local function above(ats, members, tail, first, last, bound)
  local past = last + 1
  while first < past do
    local mid = math.floor((first + past) / 2)
    if time_of(ats, members, mid, tail) > bound then past = mid else first = mid + 1 end
  end
  return first
end

-- The first index in first..last whose event time is at least bound.
local function from(ats, members, tail, first, last, bound)
  local past = last + 1
  while first < past do
    local mid = math.floor((first + past) / 2)
    if time_of(ats, members, mid, tail) >= bound then past = mid else first = mid + 1 end
  end
  return first
end

-- Field f of entries first..last, NaN where missing.
local function column_of(members, first, last, tail, f)
  local column = {}
  for k = first, last do
    local m = members[k]
    column[k] = struct.unpack('<d', m, #m - tail + 1 + 8 * f)
  end
  return column
end

-- The aggregate of column[first..last], skipping missing (NaN) values: the arithmetic of
-- vigil.domain.feature_windows.aggregate, operation for operation.
local function aggregate(column, first, last, code)
  if code == 4 or code == 5 then
    local best = false
    for k = first, last do
      local v = column[k]
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
  for k = first, last do
    local v = column[k]
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
  for k = first, last do
    local v = column[k]
    if v == v then squares = squares + (v - mean) * (v - mean) end
  end
  return math.sqrt(squares / count)
end

-- The latest entry in first..last other than member, or false.
local function other_than(members, first, last, member)
  for k = last, first, -1 do
    if members[k] ~= member then return k end
  end
  return false
end

local latest, trim, touched, answers = {}, {}, {}, {}
local p, size = 1, #batch
while p <= size do
  local number, slot, length, start = struct.unpack('<BI4H', batch, p)
  local member = string.sub(batch, start, start + length - 1)
  p = start + length
  local layout, key = layouts[number], KEYS[slot]
  local tail = layout.tail
  local at = struct.unpack('<d', member, #member - tail + 1)
  redis.call('ZADD', key, 'NX', at, member)
  local low = at - layout.horizon
  -- (at - horizon, +inf] holds this record, so its last entry is the entity's latest.
  local members = redis.call('ZRANGEBYSCORE', key, '(' .. string.format(FMT, low), '+inf')
  local ats = {}
  local last_at = time_of(ats, members, #members, tail)
  local cut = last_at - layout.retention
  local first, last = 1, 1
  if at < cut then
    members, ats = {member}, {at}
  else
    last = above(ats, members, tail, 1, #members, at) - 1
    if cut > low then first = from(ats, members, tail, 1, last, cut) end
  end
  if latest[slot] == nil then touched[#touched + 1] = slot end
  latest[slot] = last_at
  local previous = other_than(members, first, last, member)
  if at == last_at then  -- the latest record: trim when it enters a new quarter horizon
    local epoch = math.floor(at / layout.epoch)
    local before = previous and time_of(ats, members, previous, tail)
    if not before or math.floor(before / layout.epoch) ~= epoch then trim[slot] = layout end
  end
  local starts = {}
  for w = 1, #layout.windows do
    starts[w] = above(ats, members, tail, first, last, at - layout.windows[w])
  end
  local columns = {}
  for f, w in pairs(layout.reach) do columns[f] = column_of(members, starts[w], last, tail, f) end
  local out = {}
  for o = 1, #layout.outputs do
    local spec = layout.outputs[o]
    if spec[3] == 0 then
      out[o] = last - starts[spec[1]] + 1
    else
      out[o] = aggregate(columns[spec[2]], starts[spec[1]], last, spec[3])
    end
  end
  if layout.since_last then
    local gap = NAN
    if previous then
      gap = at - time_of(ats, members, previous, tail)
    elseif at >= cut and cut <= low then
      local before = redis.call('ZREVRANGEBYSCORE', key, string.format(FMT, low),
        string.format(FMT, cut), 'LIMIT', 0, 1)
      if before[1] then gap = at - struct.unpack('<d', before[1], #before[1] - tail + 1) end
    end
    out[#out + 1] = gap
  end
  answers[#answers + 1] = struct.pack(layout.answer, unpack(out))
end
for _, slot in ipairs(touched) do
  local layout = trim[slot]
  if layout then
    local cut = latest[slot] - layout.retention
    redis.call('ZREMRANGEBYSCORE', KEYS[slot], '-inf', '(' .. string.format(FMT, cut))
    if ttl > 0 then redis.call('EXPIRE', KEYS[slot], ttl) end
  end
end
return table.concat(answers)
"""
"""ARGV: the number of layouts; per layout its horizon, retention, number of fields, whether it
asks for time since last, its windows (count, then seconds) and its outputs (count, then window,
field and aggregation code of each, 1-based); the TTL (0: none); then the batch: per (record,
layout) the layout's number (uint8), its key's slot (uint32), the member's length (uint16) and
the member. Returns per (record, layout) its features as doubles in `HistoryLayout.names`
order, NaN for None, concatenated."""

_ITEM = struct.Struct("<BIH")


def _header(layouts: Sequence[HistoryLayout], ttl: int) -> list[str | int]:
    header: list[str | int] = [len(layouts)]
    for layout in layouts:
        header += [
            repr(layout.horizon),
            repr(layout.retention),
            len(layout.fields),
            1 if layout.since_last is not None else 0,
            len(layout.windows),
            *(repr(w) for w in layout.windows),
            len(layout.outputs),
        ]
        for o in layout.outputs:
            header += [o.window + 1, o.field + 1, AGGREGATION_CODES[o.aggregation]]
    return [*header, ttl]


class RedisWindowStore:
    """Every worker sees the same histories. `ttl_seconds`, when set, lets Redis forget an
    entity whose history was not trimmed for that long (wall-clock time; trimming happens at
    least once per quarter of the widest window of the entity's event time while it is active):
    it bounds memory, at the price of the in-process store's exact answers for entities that
    come back after it."""

    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int | None = None) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self._script = redis.register_script(OBSERVE)
        self._plans: dict[FeaturePipeline, tuple[tuple[HistoryLayout, ...], list[str | int]]] = {}

    def key(self, item: WindowInput, layout: HistoryLayout, entity: str) -> str:
        return (
            f"{self.prefix}:fw:{item.tenant_id}:{item.source}:{layout.entity_key}:"
            f"{layout.digest}:{entity}"
        )

    def _plan(self, pipeline: FeaturePipeline) -> tuple[tuple[HistoryLayout, ...], list[str | int]]:
        plan = self._plans.get(pipeline)
        if plan is None:
            layouts = history_layouts(pipeline)
            if len(layouts) > 255:
                raise ValueError("a pipeline aggregates by at most 255 entity keys")
            plan = self._plans[pipeline] = (layouts, _header(layouts, self.ttl_seconds or 0))
        return plan

    async def observe(
        self, pipeline: FeaturePipeline, batch: Sequence[WindowInput]
    ) -> list[dict[str, float | None]]:
        layouts, header = self._plan(pipeline)
        names = pipeline.window_feature_names
        answers: list[dict[str, float | None]] = [dict.fromkeys(names) for _ in batch]
        slots: dict[str, int] = {}
        items: list[bytes] = []
        asked: list[tuple[int, HistoryLayout]] = []
        for index, item in enumerate(batch):
            at = float(item.at)
            for number, layout in enumerate(layouts, start=1):
                entity = value_text(item.record.get(layout.entity_key))
                if entity is None:
                    continue
                slot = slots.setdefault(self.key(item, layout, entity), len(slots) + 1)
                member = layout.member(item.record_id, at, item.record)[0]
                items += (_ITEM.pack(number, slot, len(member)), member)
                asked.append((index, layout))
        if not asked:
            return answers
        reply = await self._script(keys=list(slots), args=[*header, b"".join(items)])
        offset = 0
        for index, layout in asked:
            values = struct.unpack_from(f"<{len(layout.names)}d", reply, offset)
            offset += 8 * len(values)
            answers[index].update(
                zip(layout.names, (None if math.isnan(v) else v for v in values), strict=True)
            )
        return answers
