//! Tests of `litprog build`.

use crate::util::*;
