// Runs fn(0) .. fn(n-1) on up to `threads` threads (work taken in order from a shared
// counter); the first exception stops the others and is rethrown. Used by whole-zone
// signing and verification, whose items are independent chunks of names.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace hsync::dnssec {

template <typename Fn>
void parallel_for(size_t n, unsigned threads, Fn&& fn) {
    std::atomic<size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&] {
        for (size_t i; (i = next.fetch_add(1)) < n;) {
            try {
                fn(i);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                next.store(n);
            }
        }
    };
    threads = static_cast<unsigned>(std::min<size_t>(threads, n));
    if (threads <= 1) {
        work();
    } else {
        std::vector<std::thread> pool;
        for (unsigned t = 0; t < threads; ++t)
            pool.emplace_back(work);
        for (auto& t : pool)
            t.join();
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace hsync::dnssec
