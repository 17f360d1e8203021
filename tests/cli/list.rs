//! Tests of `litprog list`.

use crate::util::*;
