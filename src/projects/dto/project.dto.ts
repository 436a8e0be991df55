import { ApiProperty } from '@nestjs/swagger';

/** Maia's project shape (REST). */
export class ProjectDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty()
  name!: string;
  @ApiProperty({ nullable: true, type: String })
  description!: string | null;
}

export class ProjectPageDto {
  @ApiProperty({ example: 0 })
  page!: number;
  @ApiProperty({ example: 25 })
  size!: number;
  @ApiProperty()
  total!: number;
  @ApiProperty({ type: [ProjectDto] })
  results!: ProjectDto[];
}
