-- Captures the DCE/RPC BIND PDU that nmap's nselib/msrpc.lua builds (msrpc.bind), by loading the
-- library unchanged with stub modules and a fake smb.write_file that records the bytes.
-- Regenerate (from Tests/CodecsTests/Fixtures):
--   lua5.4 msrpc-bind-harness.lua > msrpc-bind-epmapper.hex
-- Optional: MSRPC_LUA=/path/to/msrpc.lua
local path = os.getenv("MSRPC_LUA") or "/usr/share/nmap/nselib/msrpc.lua"
local f = assert(io.open(path, "rb"))
local source = f:read("a")
f:close()

local captured
local function stub(name)
  return setmetatable({}, { __index = function() return function() end end })
end
local modules = {
  string = string, table = table, math = math, os = os, io = io,
  smb = setmetatable({
    write_file = function(_, data) captured = data; return false, "captured" end,
  }, { __index = function() return function() end end }),
  stdnse = setmetatable({
    module = function(_, seeall) return setmetatable({}, { __index = _G }) end,
    seeall = true,
    debug1 = function() end, debug2 = function() end, debug3 = function() end,
  }, { __index = function() return function() end end }),
}
local env = setmetatable({
  require = function(name) return modules[name] or stub(name) end,
}, { __index = _G })
local chunk = assert(load(source, "=msrpc.lua", "t", env))
local lib = chunk()
local epmapper = lib.EPMAPPER_UUID
lib.bind({}, epmapper, lib.EPMAPPER_VERSION, nil)
assert(captured, "bind() did not call smb.write_file")
print((captured:gsub(".", function(c) return string.format("%02x", c:byte()) end)))
