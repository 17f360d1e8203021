//! Tests of `litprog check`.

use crate::util::*;
