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

import vendor.drivervm.AudioStream;
import vendor.drivervm.ClockInfo;
import vendor.drivervm.DeviceDetail;
import vendor.drivervm.DeviceStatus;
import vendor.drivervm.IDriverVmListener;
import vendor.drivervm.RadioInfo;
import vendor.drivervm.RpmbInfo;
import vendor.drivervm.ServiceInfo;

/**
 * Status of the drivervm service and the virtio devices it serves.
 *
 * The interface is read-only: no method changes hardware or device state. Guests change
 * state through their virtio devices; this interface only observes.
 *
 * Errors are service-specific exceptions carrying one of the ERROR_* codes below.
 */
@VintfStability
interface IDriverVm {
    /** No configured device has the given id. */
    const int ERROR_UNKNOWN_DEVICE = 1;
    /** The device exists but is of another kind than the method asks about. */
    const int ERROR_WRONG_DEVICE_KIND = 2;
    /** The backend could not be read (for example the hardware node failed). */
    const int ERROR_BACKEND_UNAVAILABLE = 3;
    /** The service already holds as many listeners as it accepts. */
    const int ERROR_TOO_MANY_LISTENERS = 4;

    ServiceInfo getServiceInfo();

    /** All configured devices, in configuration order. */
    DeviceStatus[] listDevices();

    /** Throws ERROR_UNKNOWN_DEVICE. */
    DeviceStatus getDevice(in String id);

    /** For an SCMI device. Throws ERROR_UNKNOWN_DEVICE, ERROR_WRONG_DEVICE_KIND, ERROR_BACKEND_UNAVAILABLE. */
    ClockInfo[] getClocks(in String id);

    /** For an RPMB device. Throws ERROR_UNKNOWN_DEVICE, ERROR_WRONG_DEVICE_KIND, ERROR_BACKEND_UNAVAILABLE. */
    RpmbInfo getRpmbInfo(in String id);

    /** For a RADIO device. Throws ERROR_UNKNOWN_DEVICE, ERROR_WRONG_DEVICE_KIND, ERROR_BACKEND_UNAVAILABLE. */
    RadioInfo getRadioInfo(in String id);

    /** For a SOUND device. Throws ERROR_UNKNOWN_DEVICE, ERROR_WRONG_DEVICE_KIND. */
    AudioStream[] getAudioStreams(in String id);

    /** Adds a listener; registering the same binder twice keeps one entry. Throws ERROR_TOO_MANY_LISTENERS. */
    void registerListener(in IDriverVmListener listener);

    /** Removes a listener; removing one that is not registered is not an error. */
    void unregisterListener(in IDriverVmListener listener);

    /**
     * The device's per-kind state, whatever its kind; the arm set matches DeviceStatus.kind.
     * Supersedes getClocks, getRpmbInfo, getRadioInfo and getAudioStreams, which stay for
     * version 1 clients. Added in version 2: check getInterfaceVersion() >= 2 first, a version
     * 1 service answers UNKNOWN_TRANSACTION.
     * Throws ERROR_UNKNOWN_DEVICE, ERROR_BACKEND_UNAVAILABLE.
     */
    DeviceDetail getDetail(in String id);
}
