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

import vendor.drivervm.LinkState;

/**
 * Change notifications. Calls are oneway: a slow or dead listener never blocks the service.
 */
@VintfStability
oneway interface IDriverVmListener {
    /** A device's link moved to a new state. */
    void onLinkStateChanged(in String deviceId, in LinkState state);

    /** Something in a device's per-device detail changed (rate, counter, tuning, stream). */
    void onDeviceStateChanged(in String deviceId);
}
