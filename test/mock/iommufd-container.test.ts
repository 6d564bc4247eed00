// An iommufd as the VFIO container of the legacy group path
// (drivers/vfio/group.c vfio_group_ioctl_set_container, its iommufd branch;
// drivers/iommu/iommufd/vfio_compat.c): VFIO_GROUP_SET_CONTAINER accepts an
// iommufd fd on a kernel with CONFIG_IOMMUFD and gives the group the context's
// VFIO compatibility IOAS; GROUP_GET_DEVICE_FD then binds the device to the
// iommufd and attaches it to that IOAS (vfio_df_iommufd_bind,
// vfio_iommufd_compat_attach_ioas), and the VFIO container ioctls on the
// iommufd fd are the compat layer's (iommufd_vfio_ioctl).
import { describe, expect, it } from 'vitest';
import { IOMMU, O, VFIO } from '../../src/uapi/constants.js';
import { enableVfs, expectErrno, exportBar2, groupOf, mock, VF0 } from './helpers.js';

function setup(kernelConfig?: Parameters<typeof mock>[0]) {
  const b = mock(kernelConfig);
  enableVfs(b, 2, [0]);
  const group = b.dev.open(`/dev/vfio/${groupOf(b, VF0)}`, O.RDWR);
  return { b, group };
}

describe('an iommufd as the VFIO container (vfio_compat.c)', () => {
  it('SET_CONTAINER takes an iommufd: the group has an IOMMU, the device opens without SET_IOMMU, bound to the compat IOAS', () => {
    const { b, group } = setup();
    const iommufd = b.dev.open('/dev/iommu', O.RDWR);
    // Before any group uses it, the context has no compat IOAS: SET_IOMMU is ENODEV (get_compat_ioas).
    expectErrno(() => b.dev.vfioSetIommu(iommufd, VFIO.TYPE1v2_IOMMU), 'ENODEV');
    expect(b.dev.vfioGroupGetStatus(group).flags).toBe(VFIO.GROUP_FLAGS_VIABLE);
    b.dev.vfioGroupSetContainer(group, iommufd);
    expect(b.dev.vfioGroupGetStatus(group).flags).toBe(VFIO.GROUP_FLAGS_VIABLE | VFIO.GROUP_FLAGS_CONTAINER_SET);
    // vfio_group_has_iommu: a second container of any kind is EINVAL.
    expectErrno(() => b.dev.vfioGroupSetContainer(group, iommufd), 'EINVAL');
    // The compat layer answers VFIO's container ioctls on the iommufd fd.
    expect(b.dev.vfioGetApiVersion(iommufd)).toBe(0);
    b.dev.vfioSetIommu(iommufd, VFIO.TYPE1v2_IOMMU);
    expectErrno(() => b.dev.vfioSetIommu(iommufd, 8), 'EINVAL');
    const device = b.dev.vfioGroupGetDeviceFd(group, VF0);
    // The device's dma-buf maps into the compat IOAS (the first object of a fresh context: id 1).
    const buf = exportBar2(b, device, [[0n, 2n * 1024n * 1024n]]);
    const iova = b.dev.iommuIoasMapFile(iommufd, {
      ioasId: 1,
      flags: IOMMU.IOAS_MAP_READABLE | IOMMU.IOAS_MAP_WRITEABLE,
      fd: buf,
      start: 0n,
      length: 2n * 1024n * 1024n,
      iova: 0n,
    });
    expect(iova % 4096n).toBe(0n);
    // The bound device's automatic HWPT uses the IOAS: it cannot be destroyed.
    expectErrno(() => b.dev.iommuDestroy(iommufd, 1), 'EBUSY');
    b.dev.close(buf);
    b.dev.close(device);
    b.dev.close(group);
    b.dev.close(iommufd);
    expect(b.kernel.live()).toMatchObject({ vfioDevicesOpen: 0, vfioGroupsOpen: 0, iommufdContexts: 0 });
    b.close();
  });

  it('the compat IOAS destroyed before the open: GET_DEVICE_FD is ENODEV (iommufd_vfio_compat_ioas_get_id)', () => {
    const { b, group } = setup();
    const iommufd = b.dev.open('/dev/iommu', O.RDWR);
    b.dev.vfioGroupSetContainer(group, iommufd);
    b.dev.iommuDestroy(iommufd, 1);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(group, VF0), 'ENODEV');
    expectErrno(() => b.dev.vfioSetIommu(iommufd, VFIO.TYPE1v2_IOMMU), 'ENODEV');
    b.close();
  });

  it('UNSET_CONTAINER puts the iommufd even with a device open; a file that is neither is EBADFD', () => {
    const { b, group } = setup();
    const iommufd = b.dev.open('/dev/iommu', O.RDWR);
    b.dev.vfioGroupSetContainer(group, iommufd);
    const device = b.dev.vfioGroupGetDeviceFd(group, VF0);
    b.dev.vfioGroupUnsetContainer(group);
    expect(b.dev.vfioGroupGetStatus(group).flags & VFIO.GROUP_FLAGS_CONTAINER_SET).toBe(0);
    expectErrno(() => b.dev.vfioGroupUnsetContainer(group), 'EINVAL');
    b.dev.close(device);
    const nul = b.dev.open('/dev/null', O.RDWR);
    expectErrno(() => b.dev.vfioGroupSetContainer(group, nul), 'EBADFD');
    b.close();
  });

  it("Debian's stock configuration has no iommufd: no /dev/iommu to give", () => {
    const { b } = setup({ kernelConfig: { IOMMUFD: 'n', VFIO_DEVICE_CDEV: 'n' } });
    expectErrno(() => b.dev.open('/dev/iommu', O.RDWR), 'ENOENT');
    b.close();
  });
});
