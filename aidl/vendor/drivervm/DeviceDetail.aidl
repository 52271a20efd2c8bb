/*
 * Copyright (C) 2026 The drivervm authors
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *      http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

package vendor.drivervm;

import vendor.drivervm.RadioInfo;
import vendor.drivervm.RpmbInfo;
import vendor.drivervm.ScmiDetail;
import vendor.drivervm.SoundDetail;

/**
 * A device's per-kind state: one arm per DeviceKind, in DeviceKind order, so the arm that is
 * set always matches DeviceStatus.kind. A kind added in a later version adds an arm at the
 * end; a client built against an older version cannot read that arm and gets BAD_VALUE.
 *
 * Added in version 2.
 */
@VintfStability
union DeviceDetail {
    ScmiDetail scmi;
    RpmbInfo rpmb;
    SoundDetail sound;
    RadioInfo radio;
}
