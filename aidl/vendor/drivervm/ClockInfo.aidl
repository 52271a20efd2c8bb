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

/**
 * One clock exposed over SCMI, as the service currently sees it.
 */
@VintfStability
parcelable ClockInfo {
    /** The SCMI clock id the guest uses. */
    int id;
    /** The clock name (at most 63 bytes, as SCMI v3.2 extended names allow). */
    String name;
    /** Current rate in Hz as read back from the clock framework or the simulator. */
    long rateHz;
    boolean enabled;
    /** The guest that enabled or last set this clock; empty if no guest holds it. */
    String owner;
}
