import Redis

/// The Lua scripts of ``RedisCallsLiveState``, one per change, each atomic. `ARGV[1]` is
/// always the key prefix; times come from Redis's own clock, so instances with skewed clocks
/// agree.
extension RedisCallsLiveState {
    /// Helpers every script starts with.
    private static let prelude = """
        local p = ARGV[1]
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function int(n) return string.format('%.0f', n) end
        -- A peer entry is `user|joined ms|instance`.
        local function peer_parts(v)
          return string.match(v, '^([^|]*)|([^|]*)|(.*)$')
        end
        -- The room's peers but `except`, flattened: device, user, joined ms, ...
        local function peers_of(room, except)
          local out = {}
          local all = redis.call('HGETALL', p .. 'room-peers:' .. room)
          for i = 1, #all, 2 do
            if all[i] ~= except then
              local user, joined = peer_parts(all[i + 1])
              out[#out + 1] = all[i]
              out[#out + 1] = user
              out[#out + 1] = joined
            end
          end
          return out
        end
        local function append(out, values)
          for _, v in ipairs(values) do out[#out + 1] = v end
          return out
        end
        -- One more than the last version, and never below the clock in microseconds.
        local function bump(room, now)
          local key = p .. 'room:' .. room
          local v = tonumber(redis.call('HGET', key, 'version') or '0')
          v = math.max(v + 1, now * 1000)
          redis.call('HSET', key, 'version', int(v))
          return int(v)
        end
        -- Takes an entry that exists out of its room; an emptied room starts lingering.
        local function remove_peer(room, device, instance, now)
          redis.call('HDEL', p .. 'room-peers:' .. room, device)
          redis.call('SREM', p .. 'device-rooms:' .. device, room)
          redis.call('SREM', p .. 'instance-peers:' .. instance, room .. '|' .. device)
          local version = bump(room, now)
          if redis.call('HLEN', p .. 'room-peers:' .. room) == 0 then
            redis.call('HSET', p .. 'room:' .. room, 'empty_since', int(now))
            redis.call('ZADD', p .. 'empty-rooms', now, room)
          end
          return version
        end
        -- Puts a device into a room (replacing its entry, if any, in the caller); the room is no
        -- longer empty. Returns the new version.
        local function add_peer(room, device, user, instance, now)
          redis.call('HSET', p .. 'room-peers:' .. room, device, user .. '|' .. int(now) .. '|' .. instance)
          local version = bump(room, now)
          redis.call('HDEL', p .. 'room:' .. room, 'empty_since')
          redis.call('ZREM', p .. 'empty-rooms', room)
          redis.call('SADD', p .. 'device-rooms:' .. device, room)
          redis.call('SADD', p .. 'instance-peers:' .. instance, room .. '|' .. device)
          return version
        end
        -- Takes offline every device still held by `instance`, and forgets its device list.
        local function offline_devices(instance)
          for _, device in ipairs(redis.call('SMEMBERS', p .. 'instance-devices:' .. instance)) do
            if redis.call('HGET', p .. 'device:' .. device, 'instance') == instance then
              redis.call('HDEL', p .. 'device:' .. device, 'instance')
            end
          end
          redis.call('DEL', p .. 'instance-devices:' .. instance)
        end
        -- Binds a device to its user on an instance; false when another user owns it.
        local function bind(device, user, instance, keep)
          local key = p .. 'device:' .. device
          local owner = redis.call('HGET', key, 'user')
          if owner and owner ~= user then return false end
          local previous = redis.call('HGET', key, 'instance')
          if previous and previous ~= instance then
            redis.call('SREM', p .. 'instance-devices:' .. previous, device)
          end
          redis.call('HSET', key, 'user', user, 'instance', instance)
          redis.call('EXPIRE', key, keep)
          redis.call('SADD', p .. 'user-devices:' .. user, device)
          redis.call('EXPIRE', p .. 'user-devices:' .. user, keep)
          redis.call('SADD', p .. 'instance-devices:' .. instance, device)
          return true
        end

        """

    /// ARGV instance, time to live (ms). 1 when the instance was known, 0 when it was not
    /// (new, taken for dead, or lost with Redis's data).
    static let heartbeatScript = RedisScript(prelude + """
        local known = redis.call('SET', p .. 'instance:' .. ARGV[2], '1', 'PX', ARGV[3], 'GET')
        redis.call('ZADD', p .. 'instances', now_ms(), ARGV[2])
        if known then return 1 end
        return 0
        """)

    /// ARGV device, user, instance, seconds to keep the binding. 1 bound, 0 another user's.
    static let bindScript = RedisScript(prelude + """
        if bind(ARGV[2], ARGV[3], ARGV[4], ARGV[5]) then return 1 end
        return 0
        """)

    /// ARGV device, instance: offline, unless another instance holds it now.
    static let releaseScript = RedisScript(prelude + """
        local key = p .. 'device:' .. ARGV[2]
        if redis.call('HGET', key, 'instance') == ARGV[3] then
          redis.call('HDEL', key, 'instance')
          redis.call('SREM', p .. 'instance-devices:' .. ARGV[3], ARGV[2])
        end
        return 1
        """)

    /// ARGV instance: its devices go offline, and it is dead for the next sweep (score 0).
    static let retireScript = RedisScript(prelude + """
        local instance = ARGV[2]
        offline_devices(instance)
        redis.call('DEL', p .. 'instance:' .. instance)
        redis.call('ZADD', p .. 'instances', 0, instance)
        return 1
        """)

    /// ARGV user: the user's devices held by a live instance (forgotten ones are pruned).
    static let onlineScript = RedisScript(prelude + """
        local user = ARGV[2]
        local out = {}
        for _, device in ipairs(redis.call('SMEMBERS', p .. 'user-devices:' .. user)) do
          local v = redis.call('HMGET', p .. 'device:' .. device, 'user', 'instance')
          if v[1] ~= user then
            redis.call('SREM', p .. 'user-devices:' .. user, device)
          elseif v[2] and redis.call('EXISTS', p .. 'instance:' .. v[2]) == 1 then
            out[#out + 1] = device
          end
        end
        return out
        """)

    /// ARGV room, device, user, instance, max peers. `{'closed'}`, `{'full'}`, or `{'ok',
    /// joined ms, version, the other peers...}`; a rejoin replaces the device's entry.
    static let joinScript = RedisScript(prelude + """
        local room, device, user, instance, max = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
        local peers = p .. 'room-peers:' .. room
        if redis.call('HGET', p .. 'room:' .. room, 'closed') then return {'closed'} end
        local existing = redis.call('HGET', peers, device)
        if not existing and redis.call('HLEN', peers) >= max then return {'full'} end
        if existing then
          local _, _, old = peer_parts(existing)
          redis.call('SREM', p .. 'instance-peers:' .. old, room .. '|' .. device)
        end
        local now = now_ms()
        local version = add_peer(room, device, user, instance, now)
        return append({'ok', int(now), version}, peers_of(room, device))
        """)

    /// ARGV room, device. `{}` when the device is not in the room, else `{version, the
    /// remaining peers...}`.
    static let leaveScript = RedisScript(prelude + """
        local room, device = ARGV[2], ARGV[3]
        local existing = redis.call('HGET', p .. 'room-peers:' .. room, device)
        if not existing then return {} end
        local _, _, instance = peer_parts(existing)
        return append({remove_peer(room, device, instance, now_ms())}, peers_of(room, nil))
        """)

    /// ARGV room. `{}` when nobody ever joined it, else `{version, peers...}`.
    static let membersScript = RedisScript(prelude + """
        local version = redis.call('HGET', p .. 'room:' .. ARGV[2], 'version')
        if not version then return {} end
        return append({version}, peers_of(ARGV[2], nil))
        """)

    /// ARGV device, instance ('' for any). The rooms the device is in (through the instance).
    static let roomsOfScript = RedisScript(prelude + """
        local device, instance = ARGV[2], ARGV[3]
        local out = {}
        for _, room in ipairs(redis.call('SMEMBERS', p .. 'device-rooms:' .. device)) do
          local v = redis.call('HGET', p .. 'room-peers:' .. room, device)
          if not v then
            redis.call('SREM', p .. 'device-rooms:' .. device, room)
          else
            local _, _, at = peer_parts(v)
            if instance == '' or at == instance then out[#out + 1] = room end
          end
        end
        return out
        """)

    /// ARGV timeout (ms), most instances. Takes the peers and devices of instances whose key
    /// is gone and whose last heartbeat is older than the timeout; returns one entry per peer
    /// taken out: `{room, device, user, joined ms, version, the remaining peers...}`.
    static let sweepInstancesScript = RedisScript(prelude + """
        local now = now_ms()
        local out = {}
        local dead = redis.call('ZRANGEBYSCORE', p .. 'instances', '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, tonumber(ARGV[3]))
        for _, instance in ipairs(dead) do
          if redis.call('EXISTS', p .. 'instance:' .. instance) == 0 then
            for _, member in ipairs(redis.call('SMEMBERS', p .. 'instance-peers:' .. instance)) do
              local room, device = string.match(member, '^([^|]*)|(.*)$')
              local v = room and redis.call('HGET', p .. 'room-peers:' .. room, device)
              if v then
                local user, joined, at = peer_parts(v)
                if at == instance then
                  local version = remove_peer(room, device, instance, now)
                  out[#out + 1] = append({room, device, user, joined, version}, peers_of(room, nil))
                end
              end
            end
            offline_devices(instance)
            redis.call('DEL', p .. 'instance-peers:' .. instance)
            redis.call('ZREM', p .. 'instances', instance)
          end
        end
        return out
        """)

    /// ARGV seconds to keep a closed room's key, rooms...: closes those nobody ever joined
    /// (no key yet) and queues them in `closing` with score -1.
    static let closeUnjoinedScript = RedisScript(prelude + """
        for i = 3, #ARGV do
          local key = p .. 'room:' .. ARGV[i]
          if redis.call('EXISTS', key) == 0 then
            redis.call('HSET', key, 'closed', '1')
            redis.call('EXPIRE', key, ARGV[2])
            redis.call('ZADD', p .. 'closing', -1, ARGV[i])
          end
        end
        return 1
        """)

    /// ARGV linger (ms), most rooms, seconds to keep a closed room's key. Closes rooms still
    /// empty since before the linger and returns `closing` (room, emptied ms; -1: never
    /// joined): every room closed here that PostgreSQL has not recorded yet.
    static let closeIdleScript = RedisScript(prelude + """
        local now = now_ms()
        local most = tonumber(ARGV[3])
        for _, room in ipairs(redis.call('ZRANGEBYSCORE', p .. 'empty-rooms', '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, most)) do
          redis.call('ZREM', p .. 'empty-rooms', room)
          local key = p .. 'room:' .. room
          if redis.call('HLEN', p .. 'room-peers:' .. room) == 0 then
            local since = redis.call('HGET', key, 'empty_since') or '-1'
            redis.call('HSET', key, 'closed', '1')
            redis.call('EXPIRE', key, ARGV[4])
            redis.call('ZADD', p .. 'closing', tonumber(since), room)
          end
        end
        return redis.call('ZRANGE', p .. 'closing', 0, most - 1, 'WITHSCORES')
        """)

    /// ARGV instance, seconds to keep a binding, then per device: device, user, room count,
    /// rooms... Binds the devices again and puts each back into its open rooms.
    static let restoreScript = RedisScript(prelude + """
        local instance, keep = ARGV[2], ARGV[3]
        local now = now_ms()
        local i = 4
        while i + 2 <= #ARGV do
          local device, user, count = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
          local mine = bind(device, user, instance, keep)
          for j = 1, count do
            local room = ARGV[i + 2 + j]
            if mine and not redis.call('HGET', p .. 'room:' .. room, 'closed')
              and not redis.call('HGET', p .. 'room-peers:' .. room, device) then
              add_peer(room, device, user, instance, now)
            end
          end
          i = i + 3 + count
        end
        return 1
        """)
}
