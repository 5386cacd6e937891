-- Captures the bytes nmap itself sends for the SMB checks Cordon reproduces, by loading Debian's
-- nselib/smb.lua and the two NSE scripts unchanged, with stub modules and a fake socket that
-- records what is sent (and fails every receive, so nothing else happens).
--   negotiate     smb.negotiate_v1 (the SMB1 NEGOTIATE of every smb-* script)
--   ms17010       smb-vuln-ms17-010.nse's SMB_COM_TRANSACTION PeekNamedPipe
--   doublepulsar  smb-double-pulsar-backdoor.nse's Trans2 SESSION_SETUP (MID 65)
-- The session state uses PID 0x1234, UID 0x0800, TID 0x0801, MID 1.
-- Regenerate (from Tests/CodecsTests/Fixtures):
--   lua5.4 smb-nmap-harness.lua > smb-nmap-requests.txt
local NMAP = os.getenv("NMAP_DIR") or "/usr/share/nmap"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local sent = {}
local fake_socket = {
  send = function(_, data) sent[#sent + 1] = data; return true end,
  receive_buf = function() return false, "EOF" end,
  receive_bytes = function() return false, "EOF" end,
  set_timeout = function() end,
  close = function() return true end,
}

local function stub()
  return setmetatable({}, { __index = function() return function() end end })
end

local modules
local function env_for()
  return setmetatable({ require = function(name) return modules[name] or stub() end }, { __index = _G })
end

modules = {
  string = string, table = table, math = math, os = os, io = io,
  nmap = setmetatable({ registry = { args = {} } }, { __index = function() return function() end end }),
  stdnse = setmetatable({
    module = function() return setmetatable({}, { __index = _G }) end,
    seeall = true,
    get_script_args = function() return nil end,
  }, { __index = function() return function() end end }),
  tableaux = {
    invert = function(t) local r = {} for k, v in pairs(t) do r[v] = k end return r end,
    tcopy = function(t) local r = {} for k, v in pairs(t) do r[k] = v end return r end,
    contains = function(t, x) for _, v in ipairs(t) do if v == x then return true end end return false end,
  },
  vulns = { STATE = { VULN = "VULN", NOT_VULN = "NOT_VULN" },
            Report = { new = function() return { make_output = function() return "" end } end } },
}

local smb = assert(load(read(NMAP .. "/nselib/smb.lua"), "=smb.lua", "t", env_for()))()
local function state()
  return { socket = fake_socket, tid = 0x0801, uid = 0x0800, pid = 0x1234, mid = 1,
           extended_security = true, sequence = -1, ip = "198.18.0.1" }
end

local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

-- 1. SMB1 NEGOTIATE (fresh connection: TID and UID 0).
local s = state()
s.tid, s.uid = 0, 0
smb.negotiate_v1(s, {})
print("negotiate " .. hex(assert(sent[#sent])))

-- 2. and 3. The scripts, with smb.start_ex returning an established session.
local wrapped = setmetatable({ start_ex = function() return true, state() end }, { __index = smb })
modules.smb = wrapped
local host = { ip = "198.18.0.1", registry = {} }

local ms_env = env_for()
ms_env.SCRIPT_NAME = "smb-vuln-ms17-010"
local ms = assert(load(read(NMAP .. "/scripts/smb-vuln-ms17-010.nse"), "=ms17", "t", ms_env))
ms()
sent = {}
ms_env.action(host, { number = 445 })
print("ms17010 " .. hex(assert(sent[1])))

local dp_env = env_for()
dp_env.SCRIPT_NAME = "smb-double-pulsar-backdoor"
local dp = assert(load(read(NMAP .. "/scripts/smb-double-pulsar-backdoor.nse"), "=dp", "t", dp_env))
dp()
sent = {}
pcall(dp_env.action, host, { number = 445 })
print("doublepulsar " .. hex(assert(sent[1])))
