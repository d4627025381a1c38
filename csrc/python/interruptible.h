// Native calls that a Ctrl-C can stop, shared by the binding files.
#pragma once
#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace fdal_python {

// A pool-level selection is one long native step that cannot be chunked: run it on a worker
// thread while this thread, GIL released, checks for Ctrl-C every 50 ms; a signal sets the cancel
// flag the selection loops poll (rank/pool_select.h), and KeyboardInterrupt is raised once the
// worker has stopped. work(cancel) runs on the worker and must not touch Python objects.
template <typename Work>
auto run_interruptible(Work&& work) -> decltype(work(nullptr)) {
  std::atomic<bool> cancel{false};
  decltype(work(nullptr)) result{};
  std::exception_ptr error;
  bool interrupted = false;
  {
    pybind11::gil_scoped_release release;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread worker([&] {
      try {
        result = work(&cancel);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) {
      if (interrupted) continue;
      lock.unlock();
      {
        pybind11::gil_scoped_acquire acquire;
        interrupted = PyErr_CheckSignals() != 0;  // the KeyboardInterrupt stays pending in this thread
      }
      if (interrupted) cancel.store(true, std::memory_order_relaxed);
      lock.lock();
    }
    lock.unlock();
    worker.join();
  }
  if (interrupted) throw pybind11::error_already_set();
  if (error) std::rethrow_exception(error);
  return result;
}

}  // namespace fdal_python
