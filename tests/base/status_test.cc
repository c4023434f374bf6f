// base::Status and base::Result: codes, errno mapping, messages, and the
// early return of BASE_RETURN_IF_ERROR.
#include "base/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <utility>

namespace base {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kOk);
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = Status::Conflict("item w7 is owned by a2");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_EQ(s.message(), "item w7 is owned by a2");
  EXPECT_EQ(s.CodeName(), "conflict");
  EXPECT_EQ(s.ToString(), "conflict: item w7 is owned by a2");
}

TEST(StatusTest, PredicatesFollowTheCode) {
  EXPECT_TRUE(Status::Busy("x").IsBusy());
  EXPECT_FALSE(Status::Busy("x").IsStorageError());
  EXPECT_TRUE(Status::NoSpace("x").IsNoSpace());
  EXPECT_TRUE(Status::NoSpace("x").IsStorageError());
  EXPECT_TRUE(Status::IOError("x").IsStorageError());
  EXPECT_FALSE(Status::Corrupt("x").IsStorageError());
}

TEST(StatusTest, FromErrnoMapsErrnoInOnePlace) {
  EXPECT_EQ(Status::FromErrno(ENOENT, "open a").code(), Status::Code::kNotFound);
  EXPECT_EQ(Status::FromErrno(ENOSPC, "write a").code(), Status::Code::kNoSpace);
  EXPECT_EQ(Status::FromErrno(EDQUOT, "write a").code(), Status::Code::kNoSpace);
  EXPECT_EQ(Status::FromErrno(EWOULDBLOCK, "lock a").code(), Status::Code::kBusy);
  EXPECT_EQ(Status::FromErrno(EINVAL, "x").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Status::FromErrno(ENAMETOOLONG, "x").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Status::FromErrno(EIO, "x").code(), Status::Code::kIOError);
  Status s = Status::FromErrno(ENOSPC, "writing items/w7.json");
  EXPECT_EQ(s.message(), "writing items/w7.json: No space left on device");
}

TEST(StatusTest, EveryCodeHasAName) {
  using Code = Status::Code;
  for (Code c : {Code::kOk, Code::kNotFound, Code::kBusy, Code::kConflict, Code::kStaleToken,
                 Code::kHalted, Code::kConfigMismatch, Code::kCorrupt, Code::kNoSpace,
                 Code::kIOError, Code::kInvalidArgument}) {
    EXPECT_NE(CodeName(c), "unknown") << static_cast<int>(c);
  }
  EXPECT_EQ(CodeName(Code::kStaleToken), "stale_token");
  EXPECT_EQ(CodeName(Code::kInvalidArgument), "invalid_argument");
}

TEST(ResultTest, HoldsAValue) {
  Result<std::string> r = std::string("w7");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(*r, "w7");
  EXPECT_EQ(r->size(), 2u);
  EXPECT_TRUE(r.status().ok());
}

TEST(ResultTest, HoldsAnError) {
  Result<int> r = Status::NotFound("no item w9");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(r.status().message(), "no item w9");
}

TEST(ResultTest, MovesAMoveOnlyValueOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(42);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> v = std::move(r).value();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 42);
}

Status Step(bool fail, int* steps) {
  ++*steps;
  return fail ? Status::Halted("HALT is present") : Status::Ok();
}

Status TwoSteps(bool fail_first, int* steps) {
  BASE_RETURN_IF_ERROR(Step(fail_first, steps));
  BASE_RETURN_IF_ERROR(Step(false, steps));
  return Status::Ok();
}

TEST(ReturnIfErrorTest, ReturnsTheFirstErrorAndStops) {
  int steps = 0;
  Status s = TwoSteps(/*fail_first=*/true, &steps);
  EXPECT_EQ(s.code(), Status::Code::kHalted);
  EXPECT_EQ(steps, 1);
}

TEST(ReturnIfErrorTest, ContinuesWhenOk) {
  int steps = 0;
  EXPECT_TRUE(TwoSteps(/*fail_first=*/false, &steps).ok());
  EXPECT_EQ(steps, 2);
}

}  // namespace
}  // namespace base
