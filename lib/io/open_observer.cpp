#include "io/open_observer.h"

namespace gencast {
namespace {

FileOpenObserver g_observer = nullptr;

}  // namespace

void set_file_open_observer(FileOpenObserver observer) { g_observer = observer; }

void notify_file_open(const std::string& path, const char* library) {
  if (g_observer) g_observer(path, library);
}

}  // namespace gencast
