#pragma once
// The error type every layer returns: a stable code for programs and a message for people.

#include <string>
#include <utility>
#include <variant>

namespace rp {

struct Error {
    std::string code;     // stable, machine-readable: "invalid_room", "connect_failed", ...
    std::string message;  // for a person: what was wrong and, where it helps, what to do
};

inline Error make_error(std::string code, std::string message) {
    return Error{std::move(code), std::move(message)};
}

// A value or an Error; a small stand-in for C++23's std::expected.
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() { return std::get<0>(state_); }
    const T& value() const { return std::get<0>(state_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(state_); }

private:
    std::variant<T, Error> state_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace rp
