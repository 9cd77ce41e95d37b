// Ctrl-C / SIGTERM / SIGHUP / SIGQUIT handling for long runs: the first signal asks the run to
// stop at the next safe point (it then throws, so the output writer deletes
// its temporary file); a second signal terminates immediately.
#pragma once

namespace gencast {

void install_interrupt_handlers();
bool interrupt_requested();
// Throws RuntimeFailure("interrupted") when a stop was requested.
void throw_if_interrupted();

}  // namespace gencast
