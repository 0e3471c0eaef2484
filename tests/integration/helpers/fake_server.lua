-- A tiny TCP listener that is not Redis, for the connection handshake specs.
-- It binds 127.0.0.1 on a free port, writes the port to PORTFILE, and answers
-- every connection the way a web server would: it reads what the client
-- sent, writes ANSWER ("\r\n" escapes allowed) and closes.
--
--   luajit tests/integration/helpers/fake_server.lua PORTFILE 'HTTP/1.1 400 Bad Request\r\n\r\n'
--
-- LuaJIT's FFI calls the libc socket functions directly (x86-64/little-endian
-- layout of sockaddr_in); the spec kills it by its pid.
local ffi = require "ffi"
local bit = require "bit"

ffi.cdef [[
typedef struct { uint16_t family; uint16_t port; uint32_t addr; char zero[8]; } fake_sockaddr_in;
int socket(int domain, int type, int protocol);
int bind(int fd, const void *addr, unsigned len);
int listen(int fd, int backlog);
int accept(int fd, void *addr, void *len);
int getsockname(int fd, void *addr, unsigned *len);
long read(int fd, void *buf, unsigned long n);
long write(int fd, const void *buf, unsigned long n);
int close(int fd);
]]
local C = ffi.C
local portfile, answer = arg[1], (arg[2] or ""):gsub("\\r", "\r"):gsub("\\n", "\n")

local fd = C.socket(2, 1, 0) -- AF_INET, SOCK_STREAM
local sa = ffi.new("fake_sockaddr_in", { family = 2, port = 0, addr = 0x0100007f }) -- 127.0.0.1
assert(fd >= 0 and C.bind(fd, sa, ffi.sizeof(sa)) == 0 and C.listen(fd, 16) == 0, "listen failed")
local len = ffi.new("unsigned[1]", ffi.sizeof(sa))
assert(C.getsockname(fd, sa, len) == 0)
local port = bit.bor(bit.lshift(bit.band(sa.port, 0xff), 8), bit.rshift(sa.port, 8))
local f = assert(io.open(portfile .. ".tmp", "w"))
f:write(tostring(port))
f:close()
os.rename(portfile .. ".tmp", portfile)

local buf = ffi.new("char[4096]")
while true do
  local c = C.accept(fd, nil, nil)
  if c >= 0 then
    C.read(c, buf, 4096)
    C.write(c, answer, #answer)
    C.close(c)
  end
end
