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

import vendor.drivervm.DeviceKind;
import vendor.drivervm.LinkState;
import vendor.drivervm.QueueCounters;
import vendor.drivervm.TransportKind;

/**
 * One configured device: what it is, whom it serves, and how its link is doing.
 */
@VintfStability
parcelable DeviceStatus {
    /** The device id from the configuration file; unique within the service. */
    String id;
    DeviceKind kind;
    /** The guest VM this device is assigned to, as named in the configuration. */
    String guest;
    TransportKind transport;
    /** The vhost-user socket path, or the Gunyah backend node and label. */
    String endpoint;
    LinkState link;
    /** Feature bits the guest driver accepted; 0 before feature negotiation. */
    long negotiatedFeatures;
    QueueCounters[] queues;
    /** The last error the device reported; empty if none since it started. */
    String lastError;
    /**
     * The kind's name as the configuration writes it ("scmi", ...). Set for every device;
     * what to show when `kind` is a value this client does not know, including kinds the
     * service adds without a DeviceKind value of their own (then `kind` is -1). Added in
     * version 2.
     */
    String kindName;
}
