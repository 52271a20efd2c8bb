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
// Snapshot of the vendor.drivervm AIDL API in the form `aidl --dumpapi` prints. Files
// under a numbered directory are frozen: the .hash beside them covers these bytes and
// shipped devices depend on them, so they never change. current/ follows the sources.

package vendor.drivervm;
@VintfStability
interface IDriverVm {
  vendor.drivervm.ServiceInfo getServiceInfo();
  vendor.drivervm.DeviceStatus[] listDevices();
  vendor.drivervm.DeviceStatus getDevice(in String id);
  vendor.drivervm.ClockInfo[] getClocks(in String id);
  vendor.drivervm.RpmbInfo getRpmbInfo(in String id);
  vendor.drivervm.RadioInfo getRadioInfo(in String id);
  vendor.drivervm.AudioStream[] getAudioStreams(in String id);
  void registerListener(in vendor.drivervm.IDriverVmListener listener);
  void unregisterListener(in vendor.drivervm.IDriverVmListener listener);
  vendor.drivervm.DeviceDetail getDetail(in String id);
  const int ERROR_UNKNOWN_DEVICE = 1;
  const int ERROR_WRONG_DEVICE_KIND = 2;
  const int ERROR_BACKEND_UNAVAILABLE = 3;
  const int ERROR_TOO_MANY_LISTENERS = 4;
}
