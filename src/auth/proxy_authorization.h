#pragma once
// Adds a Proxy-Authorization field to a request head that holds a
// credential, without leaving copies of it behind (D14): the head's one
// reallocation happens before the value is written, and nothing builds it
// through operator+ temporaries. The caller still wipes `head`
// (cleanse_string) once it is sent, and wipes it before assigning it
// another value (an assignment that grows it frees the old buffer as is).
#include <string>
#include <string_view>

#include "base/secret.h"

namespace ferry::auth {

// `head` ends with the blank line ("...\r\n\r\n"); the field goes before it.
// Room for a few more fields (Expect: 100-continue) is reserved as well, so
// later inserts do not reallocate either. An empty `value` adds nothing.
void append_proxy_authorization(std::string& head, std::string_view value);
inline void append_proxy_authorization(std::string& head, const Secret& value) {
  append_proxy_authorization(head, value.view());
}

}  // namespace ferry::auth
