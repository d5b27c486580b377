// Boost.JSON's compiled part, header-only style: this must be the only
// translation unit of ferry that includes <boost/json/src.hpp> (a second
// one would define its symbols twice). Every other file includes the
// ordinary <boost/json/...> headers.
#include <boost/json/src.hpp>
