-- Runs the real functions of nmap's p2p-conficker.nse (Debian's nmap package) to produce the
-- test vectors in this folder. The script's own source is loaded unchanged; a `return` of its
-- local functions is appended so that the harness can call them, and the few nselib modules it
-- requires are replaced by tiny shims (it only uses them for logging and the host rule).
--
-- Regenerate (from Tests/CodecsTests/Fixtures):
--   lua5.4 conficker-harness.lua ports  > conficker-ports.txt
--   lua5.4 conficker-harness.lua weeks  > conficker-weeks.txt
--   lua5.4 conficker-harness.lua probes > conficker-probes.txt
--   lua5.4 conficker-harness.lua parse  < replies.in   # "tcp|udp HEX" per line -> verdict per line
-- Optional: CONFICKER_NSE=/path/to/p2p-conficker.nse
--
-- Output formats:
--   ports:  "a.b.c.d week tcp1 udp1 tcp2 udp2"   (ports as the script's action() computes them)
--   weeks:  "unix_time week"                     (math.floor((t - 345600) / 604800))
--   probes: "tcp|udp key1 key2 HEX"              (p2p_create_packet with math.random fixed)
--   parse:  "ok|badhash|fail <detail>"           (p2p_parse + hash check, as conficker_check)

local path = os.getenv("CONFICKER_NSE") or "/usr/share/nmap/scripts/p2p-conficker.nse"
local f = assert(io.open(path, "rb"))
local source = f:read("a")
f:close()

source = source .. [[

return {
  prng_generate_ports = prng_generate_ports,
  p2p_create_packet = p2p_create_packet,
  p2p_parse = p2p_parse,
  p2p_checksum = p2p_checksum,
  is_blacklisted_port = is_blacklisted_port,
}
]]

-- math.random is replaced so that probe keys are chosen by the harness.
local queued = {}
local fake_math = setmetatable({
  random = function(a, b)
    local v = table.remove(queued, 1)
    assert(v ~= nil, "no queued random value")
    return v
  end,
}, { __index = math })

local shims = {
  math = fake_math,
  string = string,
  table = table,
  os = os,
  nmap = { address_family = function() return "inet" end, registry = { args = {} }, verbosity = function() return 0 end },
  stdnse = {
    debug1 = function() end, debug2 = function() end, debug3 = function() end,
    format_output = function(_, r) return r end,
  },
  smb = { get_port = function() return 445 end },
  ipOps = {
    todword = function(ip)
      local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
      return ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
    end,
  },
}

local env = setmetatable({ require = function(name) return assert(shims[name], name) end }, { __index = _G })
local chunk = assert(load(source, "=p2p-conficker.nse", "t", env))
local script = chunk()

-- The address conversion of the script's action(): todword, pack big-endian, unpack little-endian.
local function script_ip(ip)
  local dword = shims.ipOps.todword(ip)
  return string.unpack("<I4", string.pack(">I4", dword))
end

-- A small deterministic generator (64-bit LCG) for the random addresses.
local state = 0x2545F4914F6CDD1D
local function rand_byte()
  state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
  return (state >> 33) & 0xFF
end

local mode = arg[1] or "ports"

if mode == "ports" then
  local addresses = {
    "0.0.0.0", "255.255.255.255", "127.0.0.1", "10.0.0.1", "192.168.1.1", "192.168.1.65",
    "198.18.0.1", "198.19.255.254", "1.2.3.4", "4.3.2.1", "128.0.0.0", "0.0.0.1", "1.0.0.0",
    "255.0.0.0", "0.0.0.255", "172.16.0.1", "8.8.8.8", "224.0.0.1", "169.254.1.1", "100.64.0.1",
  }
  for _ = 1, 280 do
    addresses[#addresses + 1] = string.format("%d.%d.%d.%d", rand_byte(), rand_byte(), rand_byte(), rand_byte())
  end
  -- Weeks: 0, the Conficker.C era (March/April 2009), recent weeks, and edge values the
  -- seed XOR truncates (negative, above 32 bits).
  local weeks = { 0, 1, 2044, 2045, 2050, 2900, 2901, 2950, -1, 4294967296 + 7, 65535 }
  for _, ip in ipairs(addresses) do
    for _, week in ipairs(weeks) do
      local p = script.prng_generate_ports(script_ip(ip), week)
      print(string.format("%s %d %d %d %d %d", ip, week, p[1], p[2], p[3], p[4]))
    end
  end
elseif mode == "weeks" then
  local times = { 0, 345599, 345600, 345601, 950399, 950400, 1238544000, 1239000000, 1700000000,
                  1763683200, 2000000000, 4102444800, -1, -604800, -1000000 }
  for _, t in ipairs(times) do
    print(string.format("%d %d", t, math.floor((t - 345600) / 604800)))
  end
elseif mode == "probes" then
  local keys = { { 1, 1 }, { 0x7FFFFFFF, 0x7FFFFFFF }, { 0x12345678, 0x0BADCAFE }, { 42, 0x7FFFFFFE },
                 { 0x41414141, 0x42424242 }, { 305419896, 19088743 } }
  for _, proto in ipairs({ "tcp", "udp" }) do
    for _, k in ipairs(keys) do
      queued = { k[1], k[2] }
      local ok, packet = script.p2p_create_packet(proto)
      assert(ok)
      print(string.format("%s %d %d %s", proto, k[1], k[2], (packet:gsub(".", function(c) return string.format("%02x", c:byte()) end))))
    end
  end
elseif mode == "parse" then
  for line in io.lines() do
    local proto, hex = line:match("^(%a+)%s+(%x*)$")
    if proto then
      local bytes = hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
      if proto == "tcp" then bytes = string.sub(bytes, 3) end
      local ok, result = script.p2p_parse(bytes)
      if not ok then
        print("fail " .. result)
      elseif result.hash ~= result.real_hash then
        print("badhash")
      else
        print(string.format("ok flags=%d", result.flags))
      end
    end
  end
else
  error("mode: ports | weeks | probes | parse")
end
