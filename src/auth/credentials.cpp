#include "auth/credentials.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::auth {

namespace {

// Reads a whole small file into `out` through a fixed buffer that is wiped.
bool read_small_file(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      OPENSSL_cleanse(buf, sizeof buf);
      return false;
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > 64 * 1024) break;
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return true;
}

}  // namespace

Expected<Secret> read_password_file(const std::string& path, std::string_view flag) {
  const std::string what = std::string(flag) + " " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(what + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(what + ": not a regular file");
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    return fail(what + ": mode " + mode + " lets others read it; make it private (chmod 600 " + path + ")");
  }
  Secret content;
  std::string raw;
  bool ok = read_small_file(fd, raw);
  ::close(fd);
  if (!ok) {
    cleanse_string(raw);
    return fail(what + ": read failed");
  }
  size_t end = raw.find_first_of("\r\n");
  if (end != std::string::npos) {
    // Wipe the part after the first line before the buffer is shortened.
    OPENSSL_cleanse(raw.data() + end, raw.size() - end);
    raw.resize(end);
  }
  if (raw.empty()) return fail(what + ": the first line is empty");
  Secret secret(std::move(raw));
  cleanse_string(raw);
  return secret;
}

Expected<Secret> prompt_password(std::string_view prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return fail("a password is needed for --user, but there is no terminal to ask on; use --password-file FILE");
  termios old{};
  bool have_termios = ::tcgetattr(fd, &old) == 0;
  if (have_termios) {
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n' && c != '\r' && line.size() < 4096) line.push_back(c);
  c = 0;
  if (have_termios) ::tcsetattr(fd, TCSAFLUSH, &old);
  (void)!::write(fd, "\n", 1);
  ::close(fd);
  if (line.empty()) return fail("no password entered");
  Secret secret(std::move(line));
  cleanse_string(line);
  return secret;
}

}  // namespace ferry::auth
